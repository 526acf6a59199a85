#include "audit/merkle.h"

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "keys/hash.h"
#include "keys/status_macros.h"

namespace leadvault::audit {
namespace {

constexpr char kLeafPrefix[] = {0x00};
constexpr char kNodePrefix[] = {0x01};

// Number of levels above the leaves in the tree of `size` >= 1 leaves: the
// smallest h with 2^h >= size.
uint32_t TreeHeight(uint64_t size) { return static_cast<uint32_t>(std::bit_width(size - 1)); }

// Folds the hashes of a compact range right to left into the RFC 6962 hash of
// that range. REQUIRES: first < last, and the range's nodes have decreasing
// sizes (true of RangeNodes(begin, end) when begin is aligned to a power of
// two at least end - begin, and of RangeNodes(0, end)).
Hash FoldRightToLeft(const Hash* first, const Hash* last) {
  Hash hash = *--last;
  while (last != first) hash = NodeHash(*--last, hash);
  return hash;
}

// A proof to be assembled from one batch of stored nodes: each element is
// the fold of ids[elements[k].first, elements[k].second).
struct ProofPlan {
  std::vector<NodeId> ids;
  std::vector<std::pair<size_t, size_t>> elements;

  void AddComplete(NodeId id) {
    elements.emplace_back(ids.size(), ids.size() + 1);
    ids.push_back(id);
  }
  // The (possibly incomplete) subtree of leaves [begin, end), from the
  // complete nodes that cover it.
  void AddRange(uint64_t begin, uint64_t end) {
    const size_t first = ids.size();
    for (const NodeId& id : RangeNodes(begin, end)) ids.push_back(id);
    elements.emplace_back(first, ids.size());
  }
};

// Adds the RFC 6962 audit path of node (level, index) in the tree of `size`
// leaves: its ancestors' siblings, bottom-up. A sibling past the end of the
// tree is absent (the ancestor is promoted); one crossing the end is
// incomplete and is computed from the complete nodes it covers.
void AddPath(uint32_t level, uint64_t index, uint64_t size, ProofPlan& plan) {
  const uint32_t height = TreeHeight(size);
  for (; level < height; ++level, index >>= 1) {
    const uint64_t sibling = index ^ 1;
    const uint64_t begin = sibling << level;
    if (begin >= size) continue;
    if (size - begin >= (uint64_t{1} << level)) {
      plan.AddComplete(NodeId{level, sibling});
    } else {
      plan.AddRange(begin, size);
    }
  }
}

// Expected length of the audit path of node (level, index) in the tree of
// `size` leaves. REQUIRES: (index << level) < size.
size_t PathLength(uint32_t level, uint64_t index, uint64_t size) {
  const uint64_t last = (size - 1) >> level;
  // Below the level where the paths to `index` and to the last node join,
  // every sibling exists; above it, only where the path goes through a
  // right child.
  const int inner = std::bit_width(index ^ last);
  const uint64_t above = inner >= 64 ? 0 : index >> inner;
  return static_cast<size_t>(inner + std::popcount(above));
}

absl::StatusOr<std::vector<Hash>> ReadPlan(const ProofPlan& plan, NodeReader& nodes) {
  std::vector<Hash> proof;
  if (plan.elements.empty()) return proof;
  LV_ASSIGN_OR_RETURN(std::vector<Hash> hashes, nodes.ReadNodes(plan.ids));
  if (hashes.size() != plan.ids.size()) {
    return absl::InternalError(absl::StrCat("node reader returned ", hashes.size(), " hashes for ",
                                            plan.ids.size(), " nodes"));
  }
  proof.reserve(plan.elements.size());
  for (const auto& [first, last] : plan.elements) {
    proof.push_back(FoldRightToLeft(hashes.data() + first, hashes.data() + last));
  }
  return proof;
}

absl::Status WrongLength(size_t got, size_t want) {
  return absl::InvalidArgumentError(
      absl::StrCat("proof has the wrong length (", got, " hashes, want ", want, ")"));
}

}  // namespace

Hash LeafHash(absl::string_view entry) {
  return keys::Sha256({absl::string_view(kLeafPrefix, 1), entry});
}

Hash NodeHash(const Hash& left, const Hash& right) {
  return keys::Sha256({absl::string_view(kNodePrefix, 1), HashBytes(left), HashBytes(right)});
}

Hash EmptyTreeHash() { return keys::Sha256({}); }

absl::string_view HashBytes(const Hash& hash) {
  return absl::string_view(reinterpret_cast<const char*>(hash.data()), hash.size());
}

absl::StatusOr<Hash> HashFromBytes(absl::string_view bytes) {
  Hash hash;
  if (bytes.size() != hash.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("hash has ", bytes.size(), " bytes, want ", hash.size()));
  }
  for (size_t i = 0; i < hash.size(); ++i) hash[i] = static_cast<uint8_t>(bytes[i]);
  return hash;
}

std::vector<NodeId> RangeNodes(uint64_t begin, uint64_t end) {
  std::vector<NodeId> ids;
  // Greedy from the left: the largest aligned subtree starting at `begin`
  // that fits. Sizes rise then fall, so this is the unique fewest cover.
  while (begin < end) {
    const int fits = std::bit_width(end - begin) - 1;
    const int aligned = begin == 0 ? 63 : std::countr_zero(begin);
    const uint32_t level = static_cast<uint32_t>(fits < aligned ? fits : aligned);
    ids.push_back(NodeId{level, begin >> level});
    begin += uint64_t{1} << level;
  }
  return ids;
}

absl::StatusOr<MerkleFrontier> MerkleFrontier::FromNodes(uint64_t size, std::vector<Hash> nodes) {
  const size_t want = static_cast<size_t>(std::popcount(size));
  if (nodes.size() != want) {
    return absl::InvalidArgumentError(
        absl::StrCat("frontier of size ", size, " has ", want, " nodes, got ", nodes.size()));
  }
  MerkleFrontier frontier;
  frontier.size_ = size;
  frontier.nodes_ = std::move(nodes);
  return frontier;
}

void MerkleFrontier::Append(const Hash& leaf,
                            absl::FunctionRef<void(NodeId, const Hash&)> on_node) {
  NodeId id{0, size_};
  Hash hash = leaf;
  on_node(id, hash);
  // Each trailing one bit of the old size is a left sibling that the new
  // leaf completes.
  while (id.index & 1) {
    hash = NodeHash(nodes_.back(), hash);
    nodes_.pop_back();
    id = NodeId{id.level + 1, id.index >> 1};
    on_node(id, hash);
  }
  nodes_.push_back(hash);
  ++size_;
}

void MerkleFrontier::Append(const Hash& leaf) {
  Append(leaf, [](NodeId, const Hash&) {});
}

absl::Status MerkleFrontier::AppendNode(NodeId id, const Hash& hash) {
  if (id.level >= 64 || id.index > (UINT64_MAX >> id.level) || (id.index << id.level) != size_) {
    return absl::InvalidArgumentError(
        absl::StrCat("node (", id.level, ", ", id.index, ") does not start at leaf ", size_));
  }
  const uint64_t width = uint64_t{1} << id.level;
  if (UINT64_MAX - size_ < width) {
    return absl::InvalidArgumentError("node extends the tree beyond 2^64 - 1 leaves");
  }
  NodeId at = id;
  Hash merged = hash;
  // size_ is a multiple of `width`, so the last frontier node is at least as
  // large as this one; while `at` is a right child, its left sibling is last.
  while (at.index & 1) {
    merged = NodeHash(nodes_.back(), merged);
    nodes_.pop_back();
    at = NodeId{at.level + 1, at.index >> 1};
  }
  nodes_.push_back(merged);
  size_ += width;
  return absl::OkStatus();
}

Hash MerkleFrontier::Root() const {
  if (nodes_.empty()) return EmptyTreeHash();
  return FoldRightToLeft(nodes_.data(), nodes_.data() + nodes_.size());
}

absl::StatusOr<std::vector<Hash>> InclusionProof(uint64_t index, uint64_t size, NodeReader& nodes) {
  if (index >= size) {
    return absl::InvalidArgumentError(
        absl::StrCat("leaf index ", index, " is beyond tree size ", size));
  }
  ProofPlan plan;
  AddPath(0, index, size, plan);
  return ReadPlan(plan, nodes);
}

absl::StatusOr<std::vector<Hash>> ConsistencyProof(uint64_t size1, uint64_t size2,
                                                   NodeReader& nodes) {
  if (size1 > size2) {
    return absl::InvalidArgumentError(absl::StrCat("size1 ", size1, " exceeds size2 ", size2));
  }
  if (size1 == 0 || size1 == size2) return std::vector<Hash>();
  // The old tree's last complete subtree, [size1 - 2^level, size1), is a node
  // of both trees; the proof is that node (omitted when it is the whole old
  // tree, whose root the verifier has) and its audit path in the new tree.
  const uint32_t level = static_cast<uint32_t>(std::countr_zero(size1));
  const uint64_t index = (size1 >> level) - 1;
  ProofPlan plan;
  if (!std::has_single_bit(size1)) plan.AddComplete(NodeId{level, index});
  AddPath(level, index, size2, plan);
  return ReadPlan(plan, nodes);
}

absl::StatusOr<Hash> RootAt(uint64_t size, NodeReader& nodes) {
  if (size == 0) return EmptyTreeHash();
  ProofPlan plan;
  plan.AddRange(0, size);
  LV_ASSIGN_OR_RETURN(std::vector<Hash> root, ReadPlan(plan, nodes));
  return root.front();
}

absl::Status VerifyInclusion(uint64_t index, uint64_t size, const Hash& leaf_hash,
                             const std::vector<Hash>& proof, const Hash& root) {
  if (index >= size) return absl::InvalidArgumentError("index beyond tree size");
  const size_t want = PathLength(0, index, size);
  if (proof.size() != want) return WrongLength(proof.size(), want);
  // RFC 9162 section 2.1.3.2.
  uint64_t fn = index;
  uint64_t sn = size - 1;
  Hash r = leaf_hash;
  for (const Hash& p : proof) {
    if (sn == 0) return WrongLength(proof.size(), want);
    if ((fn & 1) || fn == sn) {
      r = NodeHash(p, r);
      while (!(fn & 1) && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = NodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return WrongLength(proof.size(), want);
  if (r != root) return absl::InvalidArgumentError("root mismatch");
  return absl::OkStatus();
}

absl::Status VerifyConsistency(uint64_t size1, uint64_t size2, const Hash& root1, const Hash& root2,
                               const std::vector<Hash>& proof) {
  if (size1 > size2) return absl::InvalidArgumentError("size1 exceeds size2");
  if (size1 == 0 && root1 != EmptyTreeHash()) {
    return absl::InvalidArgumentError("root1 is not the empty tree's root");
  }
  if (size1 == size2) {
    if (!proof.empty()) return WrongLength(proof.size(), 0);
    if (root1 != root2) return absl::InvalidArgumentError("root mismatch");
    return absl::OkStatus();
  }
  if (size1 == 0) {
    // Every tree extends the empty tree.
    if (!proof.empty()) return WrongLength(proof.size(), 0);
    return absl::OkStatus();
  }

  const uint32_t level = static_cast<uint32_t>(std::countr_zero(size1));
  const bool whole_old_tree = std::has_single_bit(size1);
  const size_t want = (whole_old_tree ? 0 : 1) + PathLength(level, (size1 >> level) - 1, size2);
  if (proof.size() != want) return WrongLength(proof.size(), want);

  // RFC 9162 section 2.1.4.2, with root1 as the implicit first element when
  // size1 is a power of two.
  auto next = proof.begin();
  const Hash& seed = whole_old_tree ? root1 : *next++;
  uint64_t fn = size1 - 1;
  uint64_t sn = size2 - 1;
  while (fn & 1) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = seed;
  Hash sr = seed;
  for (; next != proof.end(); ++next) {
    const Hash& c = *next;
    if (sn == 0) return WrongLength(proof.size(), want);
    if ((fn & 1) || fn == sn) {
      fr = NodeHash(c, fr);
      sr = NodeHash(c, sr);
      while (!(fn & 1) && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = NodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return WrongLength(proof.size(), want);
  if (fr != root1) return absl::InvalidArgumentError("root1 mismatch");
  if (sr != root2) return absl::InvalidArgumentError("root2 mismatch");
  return absl::OkStatus();
}

}  // namespace leadvault::audit
