#include "api/daemon.h"

int main(int argc, char** argv) { return leadvault::api::RunDaemon(argc, argv); }
