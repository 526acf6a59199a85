// The audit log's Merkle tree: RFC 6962 / RFC 9162 hashing, compact ranges,
// and inclusion and consistency proofs built from stored complete nodes.
#ifndef LEADVAULT_AUDIT_MERKLE_H_
#define LEADVAULT_AUDIT_MERKLE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "keys/hash.h"

namespace leadvault::audit {

using Hash = keys::Sha256Digest;

// leaf = SHA-256(0x00 || entry); node = SHA-256(0x01 || left || right);
// the empty tree's root is SHA-256("").
Hash LeafHash(absl::string_view entry);
Hash NodeHash(const Hash& left, const Hash& right);
Hash EmptyTreeHash();

// A hash as raw bytes / from raw bytes (INVALID_ARGUMENT unless 32 bytes).
absl::string_view HashBytes(const Hash& hash);
absl::StatusOr<Hash> HashFromBytes(absl::string_view bytes);

// A complete node: the perfect subtree of 2^level leaves whose first leaf is
// index << level. Level 0 nodes are leaf hashes. Only complete nodes are
// ever stored; the incomplete ("ephemeral") nodes on the right edge of a tree
// are computed from them.
struct NodeId {
  uint32_t level = 0;
  uint64_t index = 0;
  friend bool operator==(const NodeId& a, const NodeId& b) {
    return a.level == b.level && a.index == b.index;
  }
};

// The fewest complete nodes that cover leaves [begin, end), left to right
// (the compact range). REQUIRES: begin <= end.
std::vector<NodeId> RangeNodes(uint64_t begin, uint64_t end);

// The compact range of leaves [0, size): the hashes of RangeNodes(0, size).
// Enough to append leaves and to compute the root. Copyable; thread-compatible.
class MerkleFrontier {
 public:
  MerkleFrontier() = default;  // the empty tree

  // From the hashes of RangeNodes(0, size), left to right; INVALID_ARGUMENT if
  // their number does not match `size`.
  static absl::StatusOr<MerkleFrontier> FromNodes(uint64_t size, std::vector<Hash> nodes);

  uint64_t size() const { return size_; }
  // The hashes of RangeNodes(0, size()), left to right.
  const std::vector<Hash>& nodes() const { return nodes_; }

  // Appends one leaf hash. `on_node` is called for the new leaf node (level 0)
  // and then for every node it completes, bottom-up: exactly the complete nodes
  // that did not exist before, which is what a store must persist.
  void Append(const Hash& leaf, absl::FunctionRef<void(NodeId, const Hash&)> on_node);
  void Append(const Hash& leaf);

  // Appends the complete node `id` (of 2^level leaves) at the right edge.
  // INVALID_ARGUMENT unless id's first leaf is size() (so it starts where the
  // range ends). Used to extend a frontier by the right-side nodes of a proof.
  absl::Status AppendNode(NodeId id, const Hash& hash);

  // The RFC 6962 root (MTH) of leaves [0, size()); EmptyTreeHash() when empty.
  Hash Root() const;

 private:
  uint64_t size_ = 0;
  std::vector<Hash> nodes_;
};

// Reads stored complete nodes (implemented by the vault over RocksDB, and by
// an in-memory tree in tests).
class NodeReader {
 public:
  virtual ~NodeReader() = default;
  // The hashes of `ids`, in the same order. Every id is a complete node of the
  // current tree. NOT_FOUND if one is not stored; UNAVAILABLE on storage error.
  virtual absl::StatusOr<std::vector<Hash>> ReadNodes(const std::vector<NodeId>& ids) = 0;
};

// The RFC 9162 inclusion proof of leaf `index` in the tree of `size` leaves,
// from stored complete nodes (O(log size) nodes read). INVALID_ARGUMENT unless
// index < size.
absl::StatusOr<std::vector<Hash>> InclusionProof(uint64_t index, uint64_t size, NodeReader& nodes);

// The RFC 9162 consistency proof between trees of size1 and size2 leaves
// (empty when size1 == size2 or size1 == 0). INVALID_ARGUMENT unless
// size1 <= size2.
absl::StatusOr<std::vector<Hash>> ConsistencyProof(uint64_t size1, uint64_t size2,
                                                   NodeReader& nodes);

// The root of the tree of `size` leaves, from stored complete nodes.
absl::StatusOr<Hash> RootAt(uint64_t size, NodeReader& nodes);

// RFC 9162 section 2.1.3.2: OK if `proof` proves leaf `leaf_hash` at `index`
// in the tree of `size` leaves with root `root`. Otherwise INVALID_ARGUMENT
// naming what failed ("index beyond tree size", "proof has the wrong length",
// "root mismatch").
absl::Status VerifyInclusion(uint64_t index, uint64_t size, const Hash& leaf_hash,
                             const std::vector<Hash>& proof, const Hash& root);

// RFC 9162 section 2.1.4.2: OK if `proof` proves the tree (size2, root2)
// extends the tree (size1, root1). Otherwise INVALID_ARGUMENT naming what failed.
absl::Status VerifyConsistency(uint64_t size1, uint64_t size2, const Hash& root1, const Hash& root2,
                               const std::vector<Hash>& proof);

}  // namespace leadvault::audit

#endif  // LEADVAULT_AUDIT_MERKLE_H_
