// Content digests ("sha256:<64 hex>") and a streaming SHA-256.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "krunbox/error.h"

namespace krunbox::image {

// A validated digest. Only sha256 is accepted: it is what every image in use
// carries, and accepting an algorithm we cannot verify would let unverified
// bytes into the store.
class Digest {
 public:
  // Checks algorithm, length and lowercase hex; anything else is
  // kInvalidArgument naming the text, so a digest can safely become a path.
  static Result<Digest> parse(std::string_view text);
  static Digest from_hex(std::string hex) { return Digest(std::move(hex)); }

  Digest() = default;
  const std::string& hex() const { return hex_; }
  std::string str() const { return "sha256:" + hex_; }
  bool empty() const { return hex_.empty(); }
  auto operator<=>(const Digest&) const = default;

 private:
  explicit Digest(std::string hex) : hex_(std::move(hex)) {}
  std::string hex_;
};

// True for exactly 64 lowercase hex characters.
bool is_sha256_hex(std::string_view hex);

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;

  void update(const void* data, size_t size);
  void update(std::string_view s) { update(s.data(), s.size()); }
  // Finishes and returns the digest; the object may not be updated after.
  Digest finish();

  static Digest of(std::string_view data);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The chain ID of a layer stack: chain(L0) = diff(L0);
// chain(Ln) = sha256(chain(Ln-1) + " " + diff(Ln)), as the OCI image spec defines.
Digest chain_id(const Digest& parent_chain, const Digest& diff_id);

}  // namespace krunbox::image
