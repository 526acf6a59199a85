// The Node.js example client (examples/node/flow.js) runs the whole flow
// against the real leadvaultd, in plaintext and over mutual TLS, and leaves in
// the audit log exactly the entries of its steps; a failed step is a nonzero
// exit. Its packages come from the npm registry (`npm ci` of the committed
// lockfile) into the scratch dir, never into the source tree: without node,
// npm or the registry these tests fail, naming what is missing.
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "tests/examples/flow_fixture.h"

#if !defined(LEADVAULT_NODE) || !defined(LEADVAULT_NPM) || !defined(LEADVAULT_NPM_CACHE) || \
    !defined(LEADVAULT_FLOW_JS_DIR)
#error \
    "LEADVAULT_NODE, LEADVAULT_NPM, LEADVAULT_NPM_CACHE and LEADVAULT_FLOW_JS_DIR must be defined by the build"
#endif

namespace leadvault::e2e {
namespace {

class NodeFlowTest : public ExampleFlowTest {
 protected:
  // @grpc/grpc-js and @grpc/proto-loader as the lockfile pins them, installed
  // into the scratch dir (the npm cache lives in the build dir).
  void SetUp() override {
    ASSERT_TRUE(Exists(LEADVAULT_NODE))
        << "node not found when cmake ran (" << LEADVAULT_NODE
        << "): install Node.js 18 or later and npm (examples/node/README.md), then re-run cmake";
    ASSERT_TRUE(Exists(LEADVAULT_NPM))
        << "npm not found when cmake ran (" << LEADVAULT_NPM
        << "): install npm (examples/node/README.md), then re-run cmake";
    const std::string packages = Path("node");
    ASSERT_TRUE(fs::create_directories(packages));
    for (const char* file : {"package.json", "package-lock.json"}) {
      fs::copy_file(fs::path(LEADVAULT_FLOW_JS_DIR) / file, fs::path(packages) / file);
    }
    ProgramRun npm =
        RunWithEnv(LEADVAULT_NPM,
                   {"ci", "--prefix", packages, "--no-audit", "--no-fund", "--ignore-scripts",
                    "--prefer-offline", "--no-update-notifier", "--cache", LEADVAULT_NPM_CACHE},
                   {}, Path("npm"));
    ASSERT_EQ(npm.exit_code, 0)
        << "npm ci failed: is the npm registry reachable? (examples/node/README.md)\n"
        << npm.err;
    ASSERT_TRUE(Exists(packages + "/node_modules/@grpc/grpc-js/package.json"));
  }

  // flow.js from the source tree with `args`, the packages on NODE_PATH, the
  // built leadvaultctl as its verifier and `env` set.
  ProgramRun RunFlow(const std::vector<std::string>& args, std::vector<std::string> env,
                     const std::string& log) override {
    std::vector<std::string> argv = {std::string(LEADVAULT_FLOW_JS_DIR) + "/flow.js",
                                     "--leadvaultctl", LEADVAULTCTL_PATH};
    argv.insert(argv.end(), args.begin(), args.end());
    env.push_back("NODE_PATH=" + Path("node/node_modules"));
    return RunWithEnv(LEADVAULT_NODE, argv, env, Path(log));
  }
};

TEST_F(NodeFlowTest, RunsTheWholeFlowInPlaintextOnLoopback) {
  ProgramRun run = ExpectFlowInPlaintext();
  EXPECT_TRUE(absl::StrContains(run.out, "verify (leadvaultctl audit verify): OK: ")) << run.out;
}

TEST_F(NodeFlowTest, RunsTheWholeFlowOverMutualTlsWithServerAndCaFromTheEnvironment) {
  ExpectFlowOverMutualTls();
}

TEST_F(NodeFlowTest, ExitsNonzeroNamingTheStepThatFailed) { ExpectFailuresExitNonzero(); }

}  // namespace
}  // namespace leadvault::e2e
