// The Python example client (examples/python/leadvault_flow.py) runs the whole
// flow against the real leadvaultd, in plaintext and over mutual TLS, with
// stubs generated here by Debian's python3-grpc-tools, and leaves in the audit
// log exactly the entries of its steps; a failed step is a nonzero exit.
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "tests/examples/flow_fixture.h"

#if !defined(LEADVAULT_PYTHON3) || !defined(LEADVAULT_FLOW_PY) || !defined(LEADVAULT_PROTO_DIR)
#error "LEADVAULT_PYTHON3, LEADVAULT_FLOW_PY and LEADVAULT_PROTO_DIR must be defined by the build"
#endif

namespace leadvault::e2e {
namespace {

class PythonFlowTest : public ExampleFlowTest {
 protected:
  // The stubs of every .proto under api/proto, generated into the scratch dir
  // (never into the source tree) as a client's build would.
  void SetUp() override {
    const std::string stubs = Path("stubs");
    ASSERT_TRUE(fs::create_directories(stubs));
    std::vector<std::string> args = {"-m",
                                     "grpc_tools.protoc",
                                     "-I",
                                     LEADVAULT_PROTO_DIR,
                                     "--python_out=" + stubs,
                                     "--grpc_python_out=" + stubs};
    for (const auto& e : fs::recursive_directory_iterator(LEADVAULT_PROTO_DIR)) {
      if (e.is_regular_file() && e.path().extension() == ".proto") {
        args.push_back(fs::relative(e.path(), LEADVAULT_PROTO_DIR).string());
      }
    }
    ProgramRun run = RunWithEnv(LEADVAULT_PYTHON3, args, {}, Path("protoc"));
    ASSERT_EQ(run.exit_code, 0)
        << "python3 -m grpc_tools.protoc failed (python3-grpc-tools, scripts/setup.sh):\n"
        << run.err;
    ASSERT_TRUE(Exists(stubs + "/leadvault/v1/leadvault_pb2_grpc.py"));
  }

  // leadvault_flow.py with `args`, the stubs on PYTHONPATH and `env` set.
  ProgramRun RunFlow(const std::vector<std::string>& args, std::vector<std::string> env,
                     const std::string& log) override {
    std::vector<std::string> argv = {LEADVAULT_FLOW_PY};
    argv.insert(argv.end(), args.begin(), args.end());
    env.push_back("PYTHONPATH=" + Path("stubs"));
    env.push_back("PYTHONDONTWRITEBYTECODE=1");  // nothing written into the source tree
    return RunWithEnv(LEADVAULT_PYTHON3, argv, env, Path(log));
  }
};

TEST_F(PythonFlowTest, RunsTheWholeFlowInPlaintextOnLoopback) {
  ProgramRun run = ExpectFlowInPlaintext();
  EXPECT_TRUE(absl::StrContains(run.out, "verify: OK: ")) << run.out;
}

TEST_F(PythonFlowTest, RunsTheWholeFlowOverMutualTlsWithServerAndCaFromTheEnvironment) {
  ExpectFlowOverMutualTls();
}

TEST_F(PythonFlowTest, ExitsNonzeroNamingTheStepThatFailed) { ExpectFailuresExitNonzero(); }

}  // namespace
}  // namespace leadvault::e2e
