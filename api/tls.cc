#include "api/tls.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "api/server.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "keys/hash.h"
#include "keys/secret_bytes.h"
#include "keys/status_macros.h"

namespace leadvault::api {
namespace {

constexpr off_t kMaxPemFileBytes = 1 << 20;

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using UniqueBio = std::unique_ptr<BIO, BioFree>;
using UniqueX509 = std::unique_ptr<X509, X509Free>;
using UniquePkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

// Refuses to decrypt: a passphrase-protected key would otherwise prompt on the terminal.
int NoPassphrase(char*, int, int, void*) { return 0; }

// A private key wiped when it goes out of scope.
class WipedString {
 public:
  WipedString() = default;
  WipedString(const WipedString&) = delete;
  WipedString& operator=(const WipedString&) = delete;
  ~WipedString() { keys::WipeString(value); }
  std::string value;
};

// Reads the PEM file `path` (`what` names its role in messages) into *out.
// A `secret` file must grant no permission to group or others.
absl::Status ReadPemFile(absl::string_view what, const std::string& path, bool secret,
                         std::string* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::FailedPreconditionError(absl::StrCat(what, " ", path, " cannot be opened: ",
                                                      errno == ENOENT ? "no such file"
                                                                      : "permission denied or "
                                                                        "unreadable"));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::FailedPreconditionError(absl::StrCat(what, " ", path, " is not a regular file"));
  }
  if (secret && (st.st_mode & 077) != 0) {
    ::close(fd);
    return absl::FailedPreconditionError(
        absl::StrFormat("%s %s is accessible by group or others (mode %04o); run: chmod 600 %s",
                        what, path, st.st_mode & 07777, path));
  }
  if (st.st_size > kMaxPemFileBytes) {
    ::close(fd);
    return absl::FailedPreconditionError(absl::StrCat(what, " ", path, " is larger than 1 MiB"));
  }
  out->assign(static_cast<size_t>(st.st_size), '\0');
  size_t used = 0;
  while (used < out->size()) {
    ssize_t n = ::read(fd, out->data() + used, out->size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    used += static_cast<size_t>(n);
  }
  ::close(fd);
  if (used != out->size()) {
    keys::WipeString(*out);
    return absl::FailedPreconditionError(absl::StrCat(what, " ", path, " cannot be read"));
  }
  return absl::OkStatus();
}

UniqueBio MemoryBio(const std::string& pem) {
  return UniqueBio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// The first certificate of `pem` (and a check that every block parses).
absl::StatusOr<UniqueX509> ParseCertificates(absl::string_view what, const std::string& path,
                                             const std::string& pem) {
  UniqueBio bio = MemoryBio(pem);
  UniqueX509 first;
  int count = 0;
  while (bio != nullptr) {
    UniqueX509 cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (cert == nullptr) break;
    if (first == nullptr) first = std::move(cert);
    ++count;
  }
  ERR_clear_error();  // the read past the last block leaves an error behind
  if (count == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, " ", path, " holds no PEM certificate"));
  }
  return first;
}

absl::StatusOr<UniquePkey> ParsePrivateKey(absl::string_view what, const std::string& path,
                                           const std::string& pem) {
  UniqueBio bio = MemoryBio(pem);
  UniquePkey key(bio == nullptr
                     ? nullptr
                     : PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  ERR_clear_error();
  if (key == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, " ", path, " holds no unencrypted PEM private key"));
  }
  return key;
}

// Reads a certificate chain and its key, and checks that they belong together.
absl::Status ReadKeyPair(absl::string_view cert_what, const std::string& cert_file,
                         absl::string_view key_what, const std::string& key_file,
                         std::string* cert_pem, std::string* key_pem) {
  LV_RETURN_IF_ERROR(ReadPemFile(cert_what, cert_file, /*secret=*/false, cert_pem));
  LV_RETURN_IF_ERROR(ReadPemFile(key_what, key_file, /*secret=*/true, key_pem));
  auto leaf = ParseCertificates(cert_what, cert_file, *cert_pem);
  if (!leaf.ok()) return leaf.status();
  auto key = ParsePrivateKey(key_what, key_file, *key_pem);
  if (!key.ok()) return key.status();
  bool match = X509_check_private_key(leaf->get(), key->get()) == 1;
  ERR_clear_error();
  if (!match) {
    return absl::FailedPreconditionError(absl::StrCat(
        key_what, " ", key_file, " does not match the certificate in ", cert_what, " ", cert_file));
  }
  return absl::OkStatus();
}

absl::Status ReadCaFile(absl::string_view what, const std::string& path, std::string* pem) {
  LV_RETURN_IF_ERROR(ReadPemFile(what, path, /*secret=*/false, pem));
  auto first = ParseCertificates(what, path, *pem);
  return first.ok() ? absl::OkStatus() : first.status();
}

}  // namespace

absl::StatusOr<std::string> CertificateSha256Hex(absl::string_view pem) {
  const absl::Status invalid = absl::InvalidArgumentError("no PEM certificate");
  if (pem.empty() || pem.size() > static_cast<size_t>(kMaxPemFileBytes)) return invalid;
  UniqueBio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  UniqueX509 cert(bio == nullptr ? nullptr
                                 : PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  unsigned char* der = nullptr;
  int der_size = cert == nullptr ? -1 : i2d_X509(cert.get(), &der);
  ERR_clear_error();
  if (der_size <= 0) return invalid;
  keys::Sha256Digest digest = keys::Sha256(
      {absl::string_view(reinterpret_cast<const char*>(der), static_cast<size_t>(der_size))});
  OPENSSL_free(der);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> NewServerTlsCredentials(
    const ServerTlsFiles& files) {
  if (files.cert_file.empty() || files.key_file.empty()) {
    return absl::FailedPreconditionError(
        "TLS needs both a certificate file and a key file (a client CA file alone is not TLS)");
  }
  std::string cert_pem;
  WipedString key_pem;
  LV_RETURN_IF_ERROR(ReadKeyPair("TLS certificate file", files.cert_file, "TLS key file",
                                 files.key_file, &cert_pem, &key_pem.value));
  std::string ca_pem;
  if (!files.client_ca_file.empty()) {
    LV_RETURN_IF_ERROR(ReadCaFile("TLS client CA file", files.client_ca_file, &ca_pem));
  }
  grpc::SslServerCredentialsOptions options(
      files.client_ca_file.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                   : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = std::move(ca_pem);
  options.pem_key_cert_pairs.push_back({key_pem.value, std::move(cert_pem)});
  // gRPC copies the PEM strings; ours are wiped.
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::SslServerCredentials(options);
  keys::WipeString(options.pem_key_cert_pairs.front().private_key);
  if (credentials == nullptr) {
    return absl::FailedPreconditionError("TLS server credentials cannot be created");
  }
  return credentials;
}

namespace {

// Writes `contents` to a new file `path` (mode 0600) and syncs it.
absl::Status WritePrivateFile(const std::string& path, absl::string_view contents) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return absl::FailedPreconditionError(absl::StrCat("TLS: cannot create ", path));
  bool ok = true;
  while (ok && !contents.empty()) {
    ssize_t n = ::write(fd, contents.data(), contents.size());
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) contents.remove_prefix(static_cast<size_t>(n));
  }
  ok = ::fsync(fd) == 0 && ok;
  ok = ::close(fd) == 0 && ok;
  if (!ok) return absl::FailedPreconditionError(absl::StrCat("TLS: cannot write ", path));
  return absl::OkStatus();
}

}  // namespace

absl::Status ReadServerKeyPair(const ServerTlsFiles& files, std::string* cert_pem,
                               std::string* key_pem) {
  return ReadKeyPair("TLS certificate file", files.cert_file, "TLS key file", files.key_file,
                     cert_pem, key_pem);
}

absl::StatusOr<std::unique_ptr<ReloadableServerTls>> ReloadableServerTls::Create(
    const ServerTlsFiles& files, std::string live_dir) {
  if (files.cert_file.empty() || files.key_file.empty()) {
    return absl::FailedPreconditionError(
        "TLS needs both a certificate file and a key file (a client CA file alone is not TLS)");
  }
  if (::mkdir(live_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(absl::StrCat("TLS: cannot create ", live_dir));
  }
  struct stat st;
  if (::lstat(live_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid() ||
      (st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("TLS: ", live_dir, " must be a directory of this user with mode 0700"));
  }
  auto tls = std::unique_ptr<ReloadableServerTls>(new ReloadableServerTls(files, live_dir));
  LV_RETURN_IF_ERROR(tls->Install());
  const std::string current = tls->live_dir_ + "/current";
  // The watcher reads the pair now (so the first handshake has it) and every second.
  if (files.client_ca_file.empty()) {
    tls->provider_ = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
        current + "/key.pem", current + "/cert.pem", 1);
  } else {
    tls->provider_ = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
        current + "/key.pem", current + "/cert.pem", current + "/client-ca.pem", 1);
  }
  grpc::experimental::TlsServerCredentialsOptions options(tls->provider_);
  options.watch_identity_key_cert_pairs();
  if (files.client_ca_file.empty()) {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  } else {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  tls->credentials_ = grpc::experimental::TlsServerCredentials(options);
  if (tls->credentials_ == nullptr) {
    return absl::FailedPreconditionError("TLS server credentials cannot be created");
  }
  return tls;
}

absl::Status ReloadableServerTls::Reload() { return Install(); }

absl::Status ReloadableServerTls::Install() {
  std::string cert_pem;
  WipedString key_pem;
  LV_RETURN_IF_ERROR(ReadKeyPair("TLS certificate file", files_.cert_file, "TLS key file",
                                 files_.key_file, &cert_pem, &key_pem.value));
  std::string ca_pem;
  if (!files_.client_ca_file.empty()) {
    LV_RETURN_IF_ERROR(ReadCaFile("TLS client CA file", files_.client_ca_file, &ca_pem));
  }
  absl::MutexLock lock(&mu_);
  // A new generation directory, filled and synced, then the symlink swapped
  // by one rename: the watcher never sees a certificate with another's key.
  const uint64_t generation = ++generation_;
  const std::string name = absl::StrCat("gen-", ::getpid(), "-", generation);
  const std::string dir = absl::StrCat(live_dir_, "/", name);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (::mkdir(dir.c_str(), 0700) != 0) {
    return absl::FailedPreconditionError(absl::StrCat("TLS: cannot create ", dir));
  }
  LV_RETURN_IF_ERROR(WritePrivateFile(dir + "/cert.pem", cert_pem));
  LV_RETURN_IF_ERROR(WritePrivateFile(dir + "/key.pem", key_pem.value));
  if (!ca_pem.empty()) LV_RETURN_IF_ERROR(WritePrivateFile(dir + "/client-ca.pem", ca_pem));
  const std::string link = live_dir_ + "/current";
  const std::string staged = link + ".tmp";
  ::unlink(staged.c_str());
  if (::symlink(name.c_str(), staged.c_str()) != 0 || ::rename(staged.c_str(), link.c_str()) != 0) {
    return absl::FailedPreconditionError(absl::StrCat("TLS: cannot switch ", link));
  }
  // Earlier generations go, but the one just replaced: the watcher may be
  // reading it at this moment (it re-reads when a file changed under it).
  const std::string previous = absl::StrCat("gen-", ::getpid(), "-", generation - 1);
  for (const auto& entry : std::filesystem::directory_iterator(live_dir_, ec)) {
    const std::string file = entry.path().filename().string();
    if (absl::StartsWith(file, "gen-") && file != name && file != previous) {
      std::filesystem::remove_all(entry.path(), ec);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> NewChannelCredentials(
    const std::string& server, const ClientTlsFiles& files) {
  if (files.cert_file.empty() != files.key_file.empty()) {
    return absl::FailedPreconditionError("a client certificate file and its key file go together");
  }
  if (files.ca_file.empty()) {
    if (!files.cert_file.empty()) {
      return absl::FailedPreconditionError(
          "a client certificate needs a CA file (the server's CA)");
    }
    // HOST:PORT or [V6]:PORT -> HOST.
    absl::string_view host = server;
    size_t colon = host.rfind(':');
    if (colon != absl::string_view::npos) host = host.substr(0, colon);
    if (absl::ConsumePrefix(&host, "[")) absl::ConsumeSuffix(&host, "]");
    if (!IsLoopbackHost(host)) {
      return absl::FailedPreconditionError(
          "--ca: required to reach a non-loopback server (the token must not travel in clear)");
    }
    return grpc::InsecureChannelCredentials();
  }
  grpc::SslCredentialsOptions options;
  LV_RETURN_IF_ERROR(ReadCaFile("CA file", files.ca_file, &options.pem_root_certs));
  WipedString key_pem;
  if (!files.cert_file.empty()) {
    LV_RETURN_IF_ERROR(ReadKeyPair("client certificate file", files.cert_file, "client key file",
                                   files.key_file, &options.pem_cert_chain, &key_pem.value));
    options.pem_private_key = key_pem.value;
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::SslCredentials(options);
  keys::WipeString(options.pem_private_key);
  if (credentials == nullptr) {
    return absl::FailedPreconditionError("TLS channel credentials cannot be created");
  }
  return credentials;
}

}  // namespace leadvault::api
