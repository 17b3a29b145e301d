#include "image/digest.h"

#include <openssl/evp.h>

#include <cstdio>

namespace krunbox::image {

bool is_sha256_hex(std::string_view hex) {
  if (hex.size() != 64) return false;
  for (char c : hex)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

Result<Digest> Digest::parse(std::string_view text) {
  auto shown = [&] { return std::string(text.substr(0, 100)); };
  auto colon = text.find(':');
  if (colon == std::string_view::npos)
    return Error(ErrorCode::kInvalidArgument, "digest \"" + shown() + "\" has no algorithm prefix (want sha256:<64 hex>)");
  std::string_view alg = text.substr(0, colon);
  std::string_view hex = text.substr(colon + 1);
  if (alg != "sha256")
    return Error(ErrorCode::kUnsupported,
                 "digest \"" + shown() + "\" uses algorithm \"" + std::string(alg.substr(0, 32)) + "\"; only sha256 is supported");
  if (!is_sha256_hex(hex))
    return Error(ErrorCode::kInvalidArgument, "digest \"" + shown() + "\" is not sha256 followed by 64 lowercase hex digits");
  return Digest(std::string(hex));
}

struct Sha256::Impl {
  EVP_MD_CTX* ctx = nullptr;
  ~Impl() {
    if (ctx) EVP_MD_CTX_free(ctx);
  }
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  impl_->ctx = EVP_MD_CTX_new();
  // Allocation failure of a few hundred bytes is not recoverable here.
  if (!impl_->ctx || EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr) != 1) std::abort();
}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(const void* data, size_t size) {
  if (size) EVP_DigestUpdate(impl_->ctx, data, size);
}

Digest Sha256::finish() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(impl_->ctx, md, &len);
  static const char* kHex = "0123456789abcdef";
  std::string hex;
  hex.reserve(len * 2);
  for (unsigned i = 0; i < len; ++i) {
    hex += kHex[md[i] >> 4];
    hex += kHex[md[i] & 15];
  }
  return Digest::from_hex(std::move(hex));
}

Digest Sha256::of(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.finish();
}

Digest chain_id(const Digest& parent_chain, const Digest& diff_id) {
  if (parent_chain.empty()) return diff_id;
  return Sha256::of(parent_chain.str() + " " + diff_id.str());
}

}  // namespace krunbox::image
