#include "keys/secret_bytes.h"

#include <sodium.h>

#include <cstdlib>
#include <cstring>
#include <utility>

namespace leadvault::keys {

SecretBytes::SecretBytes(size_t size) : size_(size) {
  if (size_ > 0) {
    data_ = new uint8_t[size_]();
  }
}

SecretBytes SecretBytes::Guarded(size_t size) {
  SecretBytes out;
  out.guarded_ = true;
  out.size_ = size;
  if (size > 0) {
    void* p = sodium_malloc(size);
    if (p == nullptr) std::abort();
    sodium_memzero(p, size);
    out.data_ = static_cast<uint8_t*>(p);
  }
  return out;
}

SecretBytes SecretBytes::CopyFrom(absl::string_view data) {
  SecretBytes out(data.size());
  if (!data.empty()) std::memcpy(out.data_, data.data(), data.size());
  return out;
}

SecretBytes SecretBytes::GuardedCopyFrom(absl::string_view data) {
  SecretBytes out = Guarded(data.size());
  if (!data.empty()) std::memcpy(out.data_, data.data(), data.size());
  return out;
}

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      guarded_(std::exchange(other.guarded_, false)) {}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    guarded_ = std::exchange(other.guarded_, false);
  }
  return *this;
}

SecretBytes::~SecretBytes() { Release(); }

void SecretBytes::Release() {
  if (data_ != nullptr) {
    if (guarded_) {
      sodium_free(data_);  // zeroes before unmapping
    } else {
      sodium_memzero(data_, size_);
      delete[] data_;
    }
  }
  data_ = nullptr;
  size_ = 0;
  guarded_ = false;
}

bool SecretBytes::Equals(const SecretBytes& other) const {
  if (size_ != other.size_) return false;
  if (size_ == 0) return true;
  return sodium_memcmp(data_, other.data_, size_) == 0;
}

SecretBytes SecretBytes::GuardedClone() const { return GuardedCopyFrom(view()); }

SecretBytes SecretBytes::Clone() const { return CopyFrom(view()); }

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

void WipeString(std::string& s) {
  if (!s.empty()) sodium_memzero(s.data(), s.size());
}

}  // namespace leadvault::keys
