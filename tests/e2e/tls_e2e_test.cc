// TLS on the gRPC port, end to end: the real leadvaultd with certificates the
// test makes with the openssl CLI, and clients that must be refused or let in.
#include <cstdlib>

#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/e2e/ops_http_client.h"

namespace leadvault::e2e {
namespace {

namespace v1 = ::leadvault::v1;
namespace health = ::grpc::health::v1;

class TlsE2eTest : public E2eTest {
 protected:
  void SetUp() override {
    WriteFileWithMode(Path("openssl.cnf"), kTestOpensslConfig, 0600);
    // Two CAs: "ca" is the one the daemon and the good clients trust, "other"
    // signs the certificates that must be refused.
    MakeCa("ca");
    MakeCa("other");
    MakeLeaf("server", "ca", "server_ext", "/CN=localhost");
    MakeLeaf("client", "ca", "client_ext", "/CN=good client");
    MakeLeaf("stranger", "other", "client_ext", "/CN=stranger");
  }

  // Runs `command` in the scratch dir through the shell, bounded by timeout(1),
  // its output appended to `log`; its exit code.
  int Shell(const std::string& command, const std::string& log = "openssl.log") {
    std::string line =
        absl::StrCat("cd '", dir_.path(), "' && timeout 60 ", command, " >>", log, " 2>&1");
    int status = std::system(line.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  // A P-256 key for `name` (mode 0600) at name.key.
  std::string NewKeyArgs(const std::string& name) {
    return absl::StrCat("-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ", name,
                        ".key");
  }

  void MakeCa(const std::string& name) {
    ASSERT_EQ(Shell(absl::StrCat("openssl req -x509 -config openssl.cnf -extensions ca_ext ",
                                 NewKeyArgs(name), " -out ", name, ".pem -days 2 -subj '/CN=", name,
                                 " test CA'")),
              0)
        << ReadFile(Path("openssl.log"));
    ASSERT_EQ(::chmod(Path(name + ".key").c_str(), 0600), 0);
  }

  void MakeLeaf(const std::string& name, const std::string& ca, const std::string& extensions,
                const std::string& subject) {
    ASSERT_EQ(Shell(absl::StrCat("openssl req -new -config openssl.cnf ", NewKeyArgs(name),
                                 " -out ", name, ".csr -subj '", subject, "'")),
              0)
        << ReadFile(Path("openssl.log"));
    ASSERT_EQ(
        Shell(absl::StrCat("openssl x509 -req -in ", name, ".csr -CA ", ca, ".pem -CAkey ", ca,
                           ".key -set_serial ", ++serial_, " -days 2 -extfile openssl.cnf",
                           " -extensions ", extensions, " -out ", name, ".pem")),
        0)
        << ReadFile(Path("openssl.log"));
    ASSERT_EQ(::chmod(Path(name + ".key").c_str(), 0600), 0);
  }

  std::vector<std::string> TlsArgs() const {
    return {"--tls-cert", Path("server.pem"), "--tls-key", Path("server.key")};
  }
  std::vector<std::string> MutualTlsArgs() const {
    std::vector<std::string> args = TlsArgs();
    args.insert(args.end(), {"--tls-client-ca", Path("ca.pem")});
    return args;
  }

  // Starts leadvaultd on `listen` with `extra` flags and waits until it serves;
  // the port it serves on (0 if it did not start).
  std::unique_ptr<Daemon> StartOn(const std::string& run, const std::string& listen,
                                  std::vector<std::string> extra, int* port) {
    std::vector<std::string> args = {"--data-dir",         DataDir(),
                                     "--listen",           listen,
                                     "--ready-file",       Path(run + ".ready"),
                                     "--admin-token-file", Path(run + ".token")};
    args.insert(args.end(), extra.begin(), extra.end());
    auto daemon = std::make_unique<Daemon>(args, Path(run));
    std::string address = daemon->WaitReady(Path(run + ".ready"));
    size_t colon = address.rfind(':');
    *port = colon == std::string::npos ? 0 : std::atoi(address.c_str() + colon + 1);
    return daemon;
  }

  // Runs leadvaultd with TLS `extra` flags expecting it to refuse; its stderr.
  std::string RefusedStart(const std::string& run, std::vector<std::string> extra) {
    std::vector<std::string> args = {"--data-dir",  DataDir(),      "--listen",
                                     "127.0.0.1:0", "--ready-file", Path(run + ".ready")};
    args.insert(args.end(), extra.begin(), extra.end());
    std::unique_ptr<Daemon> daemon;
    // The TLS files are part of the configuration: checked before anything is
    // created, refused with EX_CONFIG.
    EXPECT_EQ(RunToExit(run, args, &daemon), 78);
    EXPECT_FALSE(Exists(DataDir() + "/master.key")) << "a refused start generated a key";
    EXPECT_FALSE(Exists(Path(run + ".ready")));
    return daemon->err();
  }

  // Client credentials trusting `ca` (empty: plaintext), presenting `client`'s
  // certificate when not empty.
  std::shared_ptr<grpc::ChannelCredentials> Credentials(const std::string& ca,
                                                        const std::string& client = "") {
    if (ca.empty()) return grpc::InsecureChannelCredentials();
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = ReadFile(Path(ca + ".pem"));
    if (!client.empty()) {
      options.pem_cert_chain = ReadFile(Path(client + ".pem"));
      options.pem_private_key = ReadFile(Path(client + ".key"));
    }
    return grpc::SslCredentials(options);
  }

  // One health check over a new channel to `target`; with `tls_name`, the
  // server's certificate is checked for that name instead of the target's host.
  grpc::Status Check(const std::string& target,
                     const std::shared_ptr<grpc::ChannelCredentials>& credentials,
                     const std::string& tls_name = "") {
    grpc::ChannelArguments args;
    if (!tls_name.empty()) args.SetSslTargetNameOverride(tls_name);
    auto stub = health::Health::NewStub(testing::CheckedChannel(target, credentials, args));
    health::HealthCheckRequest request;
    health::HealthCheckResponse response;
    return stub->Check(Ctx("").get(), request, &response);
  }

  // An authenticated call over a new channel: the admin lists principals.
  grpc::Status ListPrincipals(const std::string& target,
                              const std::shared_ptr<grpc::ChannelCredentials>& credentials,
                              const std::string& token, int* count) {
    auto stub = v1::Admin::NewStub(testing::CheckedChannel(target, credentials));
    v1::ListPrincipalsRequest request;
    v1::ListPrincipalsResponse response;
    grpc::Status s = stub->ListPrincipals(Ctx(token).get(), request, &response);
    *count = response.principals_size();
    return s;
  }

  static std::string Local(int port) { return absl::StrCat("127.0.0.1:", port); }

  // GET /healthz over HTTPS from 127.0.0.1:`port`, trusting only `ca`: the
  // HTTP status, or 0 when the handshake (or the certificate) failed.
  int HttpsStatus(int port, const std::string& ca) {
    httplib::SSLClient client("127.0.0.1", port);
    client.set_ca_cert_path(Path(ca + ".pem").c_str());
    client.enable_server_certificate_verification(true);
    client.set_connection_timeout(10, 0);
    client.set_read_timeout(30, 0);
    httplib::Result result = client.Get("/healthz");
    return result ? result->status : 0;
  }

  int serial_ = 0;
};

TEST_F(TlsE2eTest, TlsServesTrustingClientsAndRefusesPlaintextAndWrongCa) {
  int port = 0;
  auto daemon = StartOn("tls", "127.0.0.1:0", TlsArgs(), &port);
  ASSERT_GT(port, 0);

  grpc::Status s = Check(Local(port), Credentials("ca"));
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  // The DNS name in the SAN, without resolving "localhost" (a bare root has no
  // /etc/hosts): connect to 127.0.0.1 and verify the certificate as "localhost".
  s = Check(Local(port), Credentials("ca"), "localhost");
  EXPECT_TRUE(s.ok()) << "the DNS name in the SAN: " << s.error_message();
  s = Check(Local(port), Credentials("ca"), "elsewhere.example");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << "a name not in the SAN";
  int count = 0;
  s = ListPrincipals(Local(port), Credentials("ca"), AdminToken("tls"), &count);
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_EQ(count, 1) << "the bootstrap admin";

  s = Check(Local(port), Credentials(""));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << "plaintext: " << s.error_message();
  s = ListPrincipals(Local(port), Credentials(""), AdminToken("tls"), &count);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << "plaintext: " << s.error_message();
  s = Check(Local(port), Credentials("other"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << "wrong CA: " << s.error_message();
  EXPECT_EQ(Stop(*daemon), 0);
}

TEST_F(TlsE2eTest, MutualTlsAcceptsOnlyClientsWithACertificateFromTheClientCa) {
  int port = 0;
  auto daemon = StartOn("mtls", "127.0.0.1:0", MutualTlsArgs(), &port);
  ASSERT_GT(port, 0);
  std::string token = AdminToken("mtls");
  int count = 0;

  grpc::Status s = ListPrincipals(Local(port), Credentials("ca", "client"), token, &count);
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_EQ(count, 1);
  s = Check(Local(port), Credentials("ca", "client"));
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();

  s = ListPrincipals(Local(port), Credentials("ca"), token, &count);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE)
      << "no client cert: " << s.error_message();
  s = ListPrincipals(Local(port), Credentials("ca", "stranger"), token, &count);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE)
      << "cert of another CA: " << s.error_message();
  s = ListPrincipals(Local(port), Credentials(""), token, &count);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << "plaintext: " << s.error_message();
  // The server's own certificate is signed by the client CA but is not a client
  // certificate (extendedKeyUsage serverAuth only): refused too.
  s = ListPrincipals(Local(port), Credentials("ca", "server"), token, &count);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE)
      << "server cert as client cert: " << s.error_message();
  EXPECT_EQ(Stop(*daemon), 0);
}

// A principal bound to a client certificate needs that certificate as well as
// its token; an unbound one works with any certificate the client CA signed.
TEST_F(TlsE2eTest, PrincipalBoundToAClientCertificateNeedsThatCertificate) {
  MakeLeaf("client2", "ca", "client_ext", "/CN=second client");
  // The expected fingerprint, computed by the openssl CLI.
  ASSERT_EQ(Shell("openssl x509 -in client.pem -outform DER -out client.der"), 0);
  ASSERT_EQ(Shell("openssl dgst -sha256 -r client.der", "client.sha256"), 0);
  const std::string fingerprint = ReadFile(Path("client.sha256")).substr(0, 64);
  ASSERT_EQ(fingerprint.size(), 64u);

  int port = 0;
  auto daemon = StartOn("bound", "127.0.0.1:0", MutualTlsArgs(), &port);
  ASSERT_GT(port, 0);
  const std::string ctl =
      absl::StrCat(LEADVAULTCTL_PATH, " --server ", Local(port),
                   " --token-file bound.token --ca ca.pem", " --cert client.pem --key client.key");
  auto create = [&](const std::string& name, const std::string& extra) {
    const std::string log = name + ".log";
    EXPECT_EQ(
        Shell(absl::StrCat(ctl, " principal create --name ", name, " --role admin", extra), log), 0)
        << ReadFile(Path(log));
    std::string out = ReadFile(Path(log));
    size_t at = out.find("token: ");
    return at == std::string::npos ? std::string() : out.substr(at + 7, 3 + 16 + 1 + 64);
  };
  const std::string bound = create("bound", " --client-cert client.pem");
  EXPECT_TRUE(absl::StrContains(ReadFile(Path("bound.log")), fingerprint))
      << ReadFile(Path("bound.log"));
  const std::string unbound = create("unbound", "");
  ASSERT_EQ(Shell(ctl + " principal list", "list.log"), 0) << ReadFile(Path("list.log"));
  EXPECT_TRUE(absl::StrContains(ReadFile(Path("list.log")), fingerprint))
      << ReadFile(Path("list.log"));

  int count = 0;
  grpc::Status s = ListPrincipals(Local(port), Credentials("ca", "client"), bound, &count);
  EXPECT_TRUE(s.ok()) << "bound, its certificate: " << s.error_code() << " " << s.error_message();
  EXPECT_EQ(count, 3);
  s = ListPrincipals(Local(port), Credentials("ca", "client2"), bound, &count);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED)
      << "bound, another certificate of the same CA: " << s.error_message();
  EXPECT_EQ(s.error_message(), "invalid or expired token");
  for (const char* client : {"client", "client2"}) {
    s = ListPrincipals(Local(port), Credentials("ca", client), unbound, &count);
    EXPECT_TRUE(s.ok()) << "unbound with " << client << ": " << s.error_message();
  }
  // A malformed fingerprint is refused by name.
  EXPECT_EQ(
      Shell(ctl + " principal create --name bad --role admin --client-cert-sha256 abc", "bad.log"),
      1);
  EXPECT_TRUE(absl::StrContains(ReadFile(Path("bad.log")), "client_cert_sha256"))
      << ReadFile(Path("bad.log"));
  EXPECT_EQ(Stop(*daemon), 0);
}

TEST_F(TlsE2eTest, NonLoopbackAddressIsServedWithTlsAndRefusedWithout) {
  std::unique_ptr<Daemon> refused;
  int code = RunToExit(
      "open",
      {"--data-dir", DataDir(), "--listen", "0.0.0.0:0", "--ready-file", Path("open.ready")},
      &refused);
  EXPECT_EQ(code, 78);
  EXPECT_FALSE(Exists(DataDir())) << "a refused start created the data dir";
  EXPECT_TRUE(absl::StrContains(refused->err(), "non-loopback")) << refused->err();
  EXPECT_TRUE(absl::StrContains(refused->err(), "without TLS")) << refused->err();
  EXPECT_FALSE(Exists(Path("open.ready")));

  int port = 0;
  auto daemon = StartOn("any", "0.0.0.0:0", TlsArgs(), &port);
  ASSERT_GT(port, 0);
  grpc::Status s = Check(Local(port), Credentials("ca"));
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  s = Check(Local(port), Credentials(""));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << "plaintext: " << s.error_message();
  EXPECT_EQ(Stop(*daemon), 0);
}

TEST_F(TlsE2eTest, OnlyTls12AndAboveIsNegotiated) {
  // An empty OpenSSL config for the daemon: the floor must be its own, not the host's
  // /etc/ssl/openssl.cnf (Debian's sets one too).
  WriteFileWithMode(Path("empty.cnf"), "", 0600);
  ASSERT_EQ(::setenv("OPENSSL_CONF", Path("empty.cnf").c_str(), 1), 0);
  int port = 0;
  auto daemon = StartOn("versions", "127.0.0.1:0", TlsArgs(), &port);
  ::unsetenv("OPENSSL_CONF");  // the probe below offers old versions under any config
  ASSERT_GT(port, 0);
  // SECLEVEL=0 lets the openssl client offer TLS 1.0 and 1.1 (its log shows the
  // protocol it offered), so a refusal is the server's.
  auto s_client = [&](const std::string& version) {
    return Shell(absl::StrCat("openssl s_client -connect ", Local(port), " -", version,
                              " -alpn h2 -CAfile ca.pem -verify_return_error",
                              " -cipher DEFAULT@SECLEVEL=0 </dev/null"),
                 version + ".log");
  };
  EXPECT_EQ(s_client("tls1_2"), 0) << ReadFile(Path("tls1_2.log"));
  EXPECT_TRUE(absl::StrContains(ReadFile(Path("tls1_2.log")), "New, TLSv1.2"));
  EXPECT_EQ(s_client("tls1_3"), 0) << ReadFile(Path("tls1_3.log"));
  EXPECT_TRUE(absl::StrContains(ReadFile(Path("tls1_3.log")), "New, TLSv1.3"));
  for (const char* old_version : {"tls1_1", "tls1"}) {
    std::string log_name = absl::StrCat(old_version, ".log");
    EXPECT_NE(s_client(old_version), 0) << ReadFile(Path(log_name));
    std::string log = ReadFile(Path(log_name));
    EXPECT_TRUE(absl::StrContains(log, "Cipher is (NONE)")) << log;
    EXPECT_FALSE(absl::StrContains(log, "no protocols available")) << "not offered: " << log;
  }
  EXPECT_EQ(Stop(*daemon), 0);
}

// leadvaultctl and leadvault-bench speak (mutual) TLS with --ca, --cert and --key.
TEST_F(TlsE2eTest, ToolsConnectWithCaCertAndKey) {
  int port = 0;
  auto daemon = StartOn("tools", "127.0.0.1:0", MutualTlsArgs(), &port);
  ASSERT_GT(port, 0);
  const std::string connect =
      absl::StrCat(" --server ", Local(port), " --token-file tools.token --ca ca.pem");
  const std::string ctl = absl::StrCat(LEADVAULTCTL_PATH, connect);
  EXPECT_EQ(Shell(ctl + " --cert client.pem --key client.key principal list", "ctl_ok.log"), 0)
      << ReadFile(Path("ctl_ok.log"));
  EXPECT_TRUE(absl::StrContains(ReadFile(Path("ctl_ok.log")), "admin"))
      << ReadFile(Path("ctl_ok.log"));
  EXPECT_EQ(Shell(ctl + " principal list", "ctl_no_cert.log"), 1)
      << ReadFile(Path("ctl_no_cert.log"));
  EXPECT_TRUE(absl::StrContains(ReadFile(Path("ctl_no_cert.log")), "UNAVAILABLE"))
      << ReadFile(Path("ctl_no_cert.log"));
  EXPECT_EQ(Shell(ctl + " --cert client.pem principal list", "ctl_no_key.log"), 2)
      << ReadFile(Path("ctl_no_key.log"));
  ASSERT_EQ(::chmod(Path("client.key").c_str(), 0644), 0);
  EXPECT_EQ(Shell(ctl + " --cert client.pem --key client.key principal list", "ctl_open.log"), 2);
  EXPECT_TRUE(absl::StrContains(ReadFile(Path("ctl_open.log")), "accessible by group or others"))
      << ReadFile(Path("ctl_open.log"));
  ASSERT_EQ(::chmod(Path("client.key").c_str(), 0600), 0);

  const std::string bench = absl::StrCat(LEADVAULT_BENCH_PATH, " load", connect);
  EXPECT_EQ(Shell(bench + " --cert client.pem --key client.key --fill 10", "bench_ok.log"), 0)
      << ReadFile(Path("bench_ok.log"));
  EXPECT_EQ(Stop(*daemon), 0);
}

// Certificate rotation without a restart: the files are replaced, SIGHUP,
// and new connections get the new certificate while a connection opened
// before goes on with its calls; a bad pair at a later SIGHUP is refused and
// the one in use stays.
TEST_F(TlsE2eTest, SighupReloadsARotatedCertificateWhileCallsContinue) {
  MakeLeaf("rotated", "other", "server_ext", "/CN=localhost");
  int port = 0;
  std::vector<std::string> args = TlsArgs();
  args.insert(args.end(), {"--metrics-listen", "127.0.0.1:0"});
  auto daemon = StartOn("reload", "127.0.0.1:0", args, &port);
  ASSERT_GT(port, 0);
  // The metrics listener serves TLS with the same pair, and rotates with it.
  const int ops_port = OpsPort(daemon->err());
  ASSERT_GT(ops_port, 0) << daemon->err();
  EXPECT_EQ(HttpsStatus(ops_port, "ca"), 200);
  EXPECT_EQ(HttpsStatus(ops_port, "other"), 0) << "the old certificate is not from other";
  const std::string token = AdminToken("reload");
  auto before = testing::CheckedChannel(Local(port), Credentials("ca"));
  auto admin_before = v1::Admin::NewStub(before);
  auto list = [&token](v1::Admin::Stub& stub) {
    v1::ListPrincipalsRequest request;
    v1::ListPrincipalsResponse response;
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    ctx->AddMetadata("authorization", "Bearer " + token);
    return stub.ListPrincipals(ctx.get(), request, &response);
  };
  ASSERT_TRUE(list(*admin_before).ok());
  EXPECT_EQ(Check(Local(port), Credentials("other")).error_code(), grpc::StatusCode::UNAVAILABLE);

  // The operator replaces the files (the new certificate is from another CA,
  // so a client tells which one it got), then SIGHUP.
  WriteFileWithMode(Path("server.pem"), ReadFile(Path("rotated.pem")), 0644);
  WriteFileWithMode(Path("server.key"), ReadFile(Path("rotated.key")), 0600);
  ASSERT_EQ(::kill(daemon->pid(), SIGHUP), 0);
  bool rotated = false;
  for (int waited = 0; !rotated && waited < kStartCapMillis; waited += 10) {
    rotated = Check(Local(port), Credentials("other")).ok();
    if (!rotated) PollPause();
  }
  ASSERT_TRUE(rotated) << daemon->err();
  EXPECT_TRUE(absl::StrContains(daemon->err(), "TLS certificate and key re-read")) << daemon->err();
  EXPECT_EQ(Check(Local(port), Credentials("ca")).error_code(), grpc::StatusCode::UNAVAILABLE)
      << "a new connection still got the old certificate";
  EXPECT_TRUE(list(*admin_before).ok()) << "the connection opened before the reload broke";
  EXPECT_EQ(HttpsStatus(ops_port, "other"), 200);
  EXPECT_EQ(HttpsStatus(ops_port, "ca"), 0);

  // A certificate with a key that is not its own: refused by name, the pair in use stays.
  WriteFileWithMode(Path("server.key"), ReadFile(Path("client.key")), 0600);
  ASSERT_EQ(::kill(daemon->pid(), SIGHUP), 0);
  bool refused = false;
  for (int waited = 0; !refused && waited < kStartCapMillis; waited += 10) {
    refused = absl::StrContains(daemon->err(), "TLS reload refused");
    if (!refused) PollPause();
  }
  EXPECT_TRUE(refused) << daemon->err();
  EXPECT_TRUE(absl::StrContains(daemon->err(), "does not match")) << daemon->err();
  EXPECT_FALSE(absl::StrContains(daemon->err(), "PRIVATE KEY"));
  EXPECT_TRUE(daemon->running());
  EXPECT_TRUE(Check(Local(port), Credentials("other")).ok());
  EXPECT_EQ(HttpsStatus(ops_port, "other"), 200);
  admin_before.reset();
  before.reset();
  EXPECT_EQ(Stop(*daemon), 0) << daemon->err();
}

TEST_F(TlsE2eTest, KeyFileReadableByOthersIsRefused) {
  ASSERT_EQ(::chmod(Path("server.key").c_str(), 0644), 0);
  std::string err = RefusedStart("open_key", TlsArgs());
  EXPECT_TRUE(absl::StrContains(err, "accessible by group or others")) << err;
  EXPECT_TRUE(absl::StrContains(err, Path("server.key"))) << err;
  ASSERT_EQ(::chmod(Path("server.key").c_str(), 0640), 0);
  err = RefusedStart("group_key", TlsArgs());
  EXPECT_TRUE(absl::StrContains(err, "accessible by group or others")) << err;
}

TEST_F(TlsE2eTest, MissingInvalidOrMismatchedFilesAreRefusedByName) {
  const std::string key_pem = ReadFile(Path("server.key"));
  auto expect_refused = [&](const std::string& run, std::vector<std::string> args,
                            const std::string& message, const std::string& file) {
    std::string err = RefusedStart(run, args);
    EXPECT_TRUE(absl::StrContains(err, message)) << run << ": " << err;
    EXPECT_TRUE(file.empty() || absl::StrContains(err, file)) << run << ": " << err;
    EXPECT_FALSE(absl::StrContains(err, "PRIVATE KEY")) << run << ": " << err;
    EXPECT_FALSE(absl::StrContains(err, key_pem.substr(40, 20))) << run << ": " << err;
  };
  expect_refused("missing_cert",
                 {"--tls-cert", Path("absent.pem"), "--tls-key", Path("server.key")},
                 "cannot be opened", Path("absent.pem"));
  expect_refused("missing_key", {"--tls-cert", Path("server.pem"), "--tls-key", Path("absent.key")},
                 "cannot be opened", Path("absent.key"));
  // A key where the certificate belongs: not a certificate, and its bytes stay out of the log.
  expect_refused("key_as_cert", {"--tls-cert", Path("server.key"), "--tls-key", Path("server.key")},
                 "holds no PEM certificate", Path("server.key"));
  WriteFileWithMode(Path("cert.key"), ReadFile(Path("ca.pem")), 0600);
  expect_refused("cert_as_key", {"--tls-cert", Path("server.pem"), "--tls-key", Path("cert.key")},
                 "holds no unencrypted PEM private key", Path("cert.key"));
  expect_refused("mismatch", {"--tls-cert", Path("server.pem"), "--tls-key", Path("client.key")},
                 "does not match", Path("client.key"));
  expect_refused("bad_client_ca",
                 {"--tls-cert", Path("server.pem"), "--tls-key", Path("server.key"),
                  "--tls-client-ca", Path("server.key")},
                 "holds no PEM certificate", Path("server.key"));
  expect_refused("cert_only", {"--tls-cert", Path("server.pem")}, "both", "");
  expect_refused("ca_only", {"--tls-client-ca", Path("ca.pem")}, "both", "");
}

}  // namespace
}  // namespace leadvault::e2e
