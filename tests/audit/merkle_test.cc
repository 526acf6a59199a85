#include "audit/merkle.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace leadvault::audit {
namespace {

// ---------------------------------------------------------------------------
// Helpers.

std::string Hex(const Hash& hash) { return absl::BytesToHexString(HashBytes(hash)); }

std::string Describe(NodeId id) { return absl::StrCat("(", id.level, ", ", id.index, ")"); }

// Decodes lower-case hex ("-" is the empty string); nullopt if malformed.
std::optional<std::string> DecodeHex(absl::string_view hex) {
  if (hex == "-") return std::string();
  if (hex.size() % 2 != 0) return std::nullopt;
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  }
  return absl::HexStringToBytes(hex);
}

Hash HashFromHex(absl::string_view hex) {
  std::optional<std::string> bytes = DecodeHex(hex);
  EXPECT_TRUE(bytes.has_value()) << hex;
  absl::StatusOr<Hash> hash = HashFromBytes(bytes.value_or(""));
  EXPECT_TRUE(hash.ok()) << hex;
  return hash.value_or(Hash{});
}

// The non-comment lines of a test data file, split on spaces.
std::vector<std::vector<std::string>> ReadTestData(absl::string_view name) {
  const std::string path = absl::StrCat(LEADVAULT_AUDIT_TESTDATA, "/", name);
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::vector<std::vector<std::string>> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    lines.push_back(absl::StrSplit(line, ' ', absl::SkipEmpty()));
  }
  return lines;
}

uint64_t ParseUint(const std::string& s) {
  uint64_t v = 0;
  EXPECT_TRUE(absl::SimpleAtoi(s, &v)) << s;
  return v;
}

std::string Decimal(uint64_t i) { return absl::StrCat(i); }

Hash FlipBit(Hash hash, size_t bit) {
  hash[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
  return hash;
}

// ---------------------------------------------------------------------------
// Naive RFC 6962 section 2.1 definitions, straight from the recursion.

uint64_t SplitPoint(uint64_t n) {  // largest power of two smaller than n > 1
  return std::bit_floor(n - 1);
}

Hash NaiveRoot(const std::vector<Hash>& leaves, uint64_t begin, uint64_t end) {
  if (begin == end) return EmptyTreeHash();
  if (end - begin == 1) return leaves[begin];
  const uint64_t k = SplitPoint(end - begin);
  return NodeHash(NaiveRoot(leaves, begin, begin + k), NaiveRoot(leaves, begin + k, end));
}

// PATH(m, D[begin:end]).
std::vector<Hash> NaivePath(const std::vector<Hash>& leaves, uint64_t m, uint64_t begin,
                            uint64_t end) {
  if (end - begin <= 1) return {};
  const uint64_t k = SplitPoint(end - begin);
  std::vector<Hash> path;
  if (m < k) {
    path = NaivePath(leaves, m, begin, begin + k);
    path.push_back(NaiveRoot(leaves, begin + k, end));
  } else {
    path = NaivePath(leaves, m - k, begin + k, end);
    path.push_back(NaiveRoot(leaves, begin, begin + k));
  }
  return path;
}

// SUBPROOF(m, D[begin:end], b).
std::vector<Hash> NaiveSubproof(const std::vector<Hash>& leaves, uint64_t m, uint64_t begin,
                                uint64_t end, bool b) {
  const uint64_t n = end - begin;
  if (m == n) {
    if (b) return {};
    return {NaiveRoot(leaves, begin, end)};
  }
  const uint64_t k = SplitPoint(n);
  std::vector<Hash> proof;
  if (m <= k) {
    proof = NaiveSubproof(leaves, m, begin, begin + k, b);
    proof.push_back(NaiveRoot(leaves, begin + k, end));
  } else {
    proof = NaiveSubproof(leaves, m - k, begin + k, end, false);
    proof.push_back(NaiveRoot(leaves, begin, begin + k));
  }
  return proof;
}

std::vector<Hash> NaiveConsistency(const std::vector<Hash>& leaves, uint64_t m, uint64_t n) {
  if (m == 0 || m == n) return {};
  return NaiveSubproof(leaves, m, 0, n, true);
}

// ---------------------------------------------------------------------------
// An in-memory store of the nodes MerkleFrontier::Append emits.

class MemoryTree final : public NodeReader {
 public:
  void Append(absl::string_view entry) {
    const Hash leaf = LeafHash(entry);
    leaves_.push_back(leaf);
    frontier_.Append(leaf, [this](NodeId id, const Hash& hash) {
      const bool inserted = nodes_.emplace(std::make_pair(id.level, id.index), hash).second;
      EXPECT_TRUE(inserted) << "node " << Describe(id) << " emitted twice";
    });
    roots_.push_back(frontier_.Root());
  }

  // Restricts reads to nodes complete in the tree of `size` leaves: a proof
  // about that tree must not depend on later leaves.
  void set_view_size(uint64_t size) { view_size_ = size; }

  absl::StatusOr<std::vector<Hash>> ReadNodes(const std::vector<NodeId>& ids) override {
    ++read_calls_;
    nodes_read_ += ids.size();
    std::vector<Hash> hashes;
    for (const NodeId& id : ids) {
      const bool complete = id.level < 64 && id.index < (view_size_ >> id.level);
      EXPECT_TRUE(complete) << "read of incomplete node " << Describe(id) << " in tree of "
                            << view_size_;
      auto it = nodes_.find({id.level, id.index});
      EXPECT_TRUE(it != nodes_.end()) << "read of missing node " << Describe(id);
      if (!complete || it == nodes_.end()) return absl::NotFoundError("no such node");
      hashes.push_back(it->second);
    }
    return hashes;
  }

  const std::vector<Hash>& leaves() const { return leaves_; }
  const MerkleFrontier& frontier() const { return frontier_; }
  // roots()[s] is the root after s leaves.
  const std::vector<Hash>& roots() const { return roots_; }
  const std::map<std::pair<uint32_t, uint64_t>, Hash>& nodes() const { return nodes_; }
  int read_calls() const { return read_calls_; }
  size_t nodes_read() const { return nodes_read_; }
  void ResetCounters() {
    read_calls_ = 0;
    nodes_read_ = 0;
  }

 private:
  std::vector<Hash> leaves_;
  MerkleFrontier frontier_;
  std::map<std::pair<uint32_t, uint64_t>, Hash> nodes_;
  std::vector<Hash> roots_ = {EmptyTreeHash()};
  uint64_t view_size_ = UINT64_MAX;
  int read_calls_ = 0;
  size_t nodes_read_ = 0;
};

MemoryTree TreeOfDecimals(uint64_t size) {
  MemoryTree tree;
  for (uint64_t i = 0; i < size; ++i) tree.Append(Decimal(i));
  return tree;
}

// ---------------------------------------------------------------------------
// Hashing.

TEST(MerkleHashTest, KnownValues) {
  EXPECT_EQ(Hex(EmptyTreeHash()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Hex(LeafHash("")), "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  EXPECT_EQ(Hex(NodeHash(LeafHash(""), LeafHash(std::string(1, '\0')))),
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125");
}

TEST(MerkleHashTest, HashBytesRoundTrip) {
  const Hash h = LeafHash("x");
  EXPECT_EQ(HashBytes(h).size(), 32u);
  absl::StatusOr<Hash> back = HashFromBytes(HashBytes(h));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, h);
  for (size_t n : {0, 1, 31, 33, 64}) {
    absl::StatusOr<Hash> bad = HashFromBytes(std::string(n, 'a'));
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << n;
  }
}

// ---------------------------------------------------------------------------
// Public vectors: transparency-dev/merkle's RFC 6962 reference tree and proofs.

struct ReferenceTree {
  std::vector<std::string> entries;
  std::map<uint64_t, Hash> roots;
  std::map<std::pair<uint32_t, uint64_t>, Hash> nodes;
};

ReferenceTree LoadReferenceTree() {
  ReferenceTree ref;
  for (const auto& t : ReadTestData("reference_tree.txt")) {
    if (t[0] == "leaf") {
      EXPECT_EQ(ParseUint(t[1]), ref.entries.size());
      ref.entries.push_back(DecodeHex(t[2]).value_or("?"));
    } else if (t[0] == "root") {
      ref.roots[ParseUint(t[1])] = HashFromHex(t[2]);
    } else if (t[0] == "node") {
      ref.nodes[{static_cast<uint32_t>(ParseUint(t[1])), ParseUint(t[2])}] = HashFromHex(t[3]);
    } else {
      ADD_FAILURE() << "bad line " << t[0];
    }
  }
  return ref;
}

MemoryTree BuildReferenceTree(const ReferenceTree& ref) {
  MemoryTree tree;
  for (const std::string& entry : ref.entries) tree.Append(entry);
  return tree;
}

TEST(MerklePublicVectorsTest, ReferenceTreeRootsAndNodes) {
  const ReferenceTree ref = LoadReferenceTree();
  ASSERT_EQ(ref.entries.size(), 8u);
  ASSERT_EQ(ref.roots.size(), 9u);
  ASSERT_EQ(ref.nodes.size(), 15u);
  MemoryTree tree;
  EXPECT_EQ(Hex(tree.frontier().Root()), Hex(ref.roots.at(0)));
  for (size_t i = 0; i < ref.entries.size(); ++i) {
    tree.Append(ref.entries[i]);
    EXPECT_EQ(Hex(tree.frontier().Root()), Hex(ref.roots.at(i + 1))) << "size " << i + 1;
  }
  // Append emitted exactly the tree's complete nodes, with the right hashes.
  EXPECT_EQ(tree.nodes(), ref.nodes);
  for (uint64_t size = 0; size <= 8; ++size) {
    tree.set_view_size(size);
    absl::StatusOr<Hash> root = RootAt(size, tree);
    ASSERT_TRUE(root.ok()) << root.status();
    EXPECT_EQ(Hex(*root), Hex(ref.roots.at(size))) << "size " << size;
  }
}

// A proof element that is not 32 bytes cannot be passed to the verifier at
// all; such a case counts as rejected.
std::optional<std::vector<Hash>> ParseProof(const std::vector<std::string>& tokens, size_t first) {
  std::vector<Hash> proof;
  for (size_t i = first; i < tokens.size(); ++i) {
    absl::StatusOr<Hash> h = HashFromBytes(DecodeHex(tokens[i]).value_or("?"));
    if (!h.ok()) return std::nullopt;
    proof.push_back(*h);
  }
  return proof;
}

std::optional<Hash> ParseHash(const std::string& token) {
  absl::StatusOr<Hash> h = HashFromBytes(DecodeHex(token).value_or("?"));
  if (!h.ok()) return std::nullopt;
  return *h;
}

TEST(MerklePublicVectorsTest, Inclusion) {
  const ReferenceTree ref = LoadReferenceTree();
  MemoryTree tree = BuildReferenceTree(ref);
  int ok_cases = 0;
  int fail_cases = 0;
  for (const auto& t : ReadTestData("inclusion.txt")) {
    ASSERT_GE(t.size(), 6u);
    SCOPED_TRACE(t[0]);
    const bool want_ok = t[1] == "ok";
    (want_ok ? ok_cases : fail_cases)++;
    const uint64_t index = ParseUint(t[2]);
    const uint64_t size = ParseUint(t[3]);
    std::optional<Hash> root = ParseHash(t[4]);
    std::optional<Hash> leaf = ParseHash(t[5]);
    std::optional<std::vector<Hash>> proof = ParseProof(t, 6);
    if (!root || !leaf || !proof) {
      EXPECT_FALSE(want_ok) << "malformed hash in a positive case";
      continue;
    }
    const absl::Status status = VerifyInclusion(index, size, *leaf, *proof, *root);
    if (!want_ok) {
      EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
      continue;
    }
    EXPECT_TRUE(status.ok()) << status;
    // The vectors are about prefixes of the reference tree: our proof must be
    // the same one.
    tree.set_view_size(size);
    absl::StatusOr<std::vector<Hash>> ours = InclusionProof(index, size, tree);
    ASSERT_TRUE(ours.ok()) << ours.status();
    EXPECT_EQ(*ours, *proof);
  }
  EXPECT_EQ(ok_cases, 5);
  EXPECT_GE(fail_cases, 75);
}

TEST(MerklePublicVectorsTest, Consistency) {
  const ReferenceTree ref = LoadReferenceTree();
  MemoryTree tree = BuildReferenceTree(ref);
  int ok_cases = 0;
  int fail_cases = 0;
  for (const auto& t : ReadTestData("consistency.txt")) {
    ASSERT_GE(t.size(), 6u);
    SCOPED_TRACE(t[0]);
    const bool want_ok = t[1] == "ok";
    (want_ok ? ok_cases : fail_cases)++;
    const uint64_t size1 = ParseUint(t[2]);
    const uint64_t size2 = ParseUint(t[3]);
    std::optional<Hash> root1 = ParseHash(t[4]);
    std::optional<Hash> root2 = ParseHash(t[5]);
    std::optional<std::vector<Hash>> proof = ParseProof(t, 6);
    if (!root1 || !root2 || !proof) {
      EXPECT_FALSE(want_ok) << "malformed hash in a positive case";
      continue;
    }
    const absl::Status status = VerifyConsistency(size1, size2, *root1, *root2, *proof);
    if (!want_ok) {
      EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
      continue;
    }
    EXPECT_TRUE(status.ok()) << status;
    tree.set_view_size(size2);
    absl::StatusOr<std::vector<Hash>> ours = ConsistencyProof(size1, size2, tree);
    ASSERT_TRUE(ours.ok()) << ours.status();
    EXPECT_EQ(*ours, *proof);
  }
  EXPECT_EQ(ok_cases, 5);
  EXPECT_GE(fail_cases, 75);
}

// ---------------------------------------------------------------------------
// Verifier edge cases and error messages.

TEST(MerkleVerifyTest, InclusionErrorsNameWhatFailed) {
  MemoryTree tree = TreeOfDecimals(7);
  const std::vector<Hash>& leaves = tree.leaves();
  const Hash root = tree.roots()[7];
  std::vector<Hash> proof = NaivePath(leaves, 3, 0, 7);

  absl::Status s = VerifyInclusion(7, 7, leaves[3], proof, root);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("index beyond tree size"), absl::string_view::npos) << s;

  s = VerifyInclusion(0, 0, leaves[0], {}, EmptyTreeHash());
  EXPECT_NE(s.message().find("index beyond tree size"), absl::string_view::npos) << s;

  std::vector<Hash> shorter(proof.begin(), proof.end() - 1);
  s = VerifyInclusion(3, 7, leaves[3], shorter, root);
  EXPECT_NE(s.message().find("proof has the wrong length"), absl::string_view::npos) << s;

  s = VerifyInclusion(3, 7, leaves[4], proof, root);
  EXPECT_NE(s.message().find("root mismatch"), absl::string_view::npos) << s;

  EXPECT_TRUE(VerifyInclusion(3, 7, leaves[3], proof, root).ok());
}

TEST(MerkleVerifyTest, SingleLeafTree) {
  const Hash leaf = LeafHash("data");
  EXPECT_TRUE(VerifyInclusion(0, 1, leaf, {}, leaf).ok());
  EXPECT_FALSE(VerifyInclusion(0, 1, leaf, {}, EmptyTreeHash()).ok());
  EXPECT_FALSE(VerifyInclusion(0, 1, EmptyTreeHash(), {}, leaf).ok());
  EXPECT_FALSE(VerifyInclusion(0, 1, leaf, {leaf}, leaf).ok());
  EXPECT_FALSE(VerifyInclusion(1, 1, leaf, {}, leaf).ok());
}

TEST(MerkleVerifyTest, ConsistencyEdgeCases) {
  const Hash a = LeafHash("a");
  const Hash b = LeafHash("b");
  const Hash empty = EmptyTreeHash();
  // Equal sizes: consistent iff the roots match and the proof is empty.
  EXPECT_TRUE(VerifyConsistency(1, 1, a, a, {}).ok());
  EXPECT_FALSE(VerifyConsistency(1, 1, a, b, {}).ok());
  EXPECT_FALSE(VerifyConsistency(1, 1, a, a, {empty}).ok());
  EXPECT_TRUE(VerifyConsistency(0, 0, empty, empty, {}).ok());
  EXPECT_FALSE(VerifyConsistency(0, 0, empty, a, {}).ok());
  EXPECT_FALSE(VerifyConsistency(0, 0, empty, empty, {empty}).ok());
  // Every tree extends the empty tree, whose root is fixed.
  EXPECT_TRUE(VerifyConsistency(0, 1, empty, a, {}).ok());
  EXPECT_FALSE(VerifyConsistency(0, 1, a, a, {}).ok());
  EXPECT_FALSE(VerifyConsistency(0, 1, empty, a, {empty}).ok());
  // Time travel to the past.
  absl::Status s = VerifyConsistency(2, 1, a, b, {});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("size1 exceeds size2"), absl::string_view::npos) << s;
  EXPECT_FALSE(VerifyConsistency(1, 0, a, b, {}).ok());
  // Growth needs a proof.
  s = VerifyConsistency(1, 2, a, b, {});
  EXPECT_NE(s.message().find("proof has the wrong length"), absl::string_view::npos) << s;
  // Roots named on mismatch.
  MemoryTree tree = TreeOfDecimals(7);
  std::vector<Hash> proof = NaiveConsistency(tree.leaves(), 3, 7);
  s = VerifyConsistency(3, 7, a, tree.roots()[7], proof);
  EXPECT_NE(s.message().find("root1 mismatch"), absl::string_view::npos) << s;
  s = VerifyConsistency(3, 7, tree.roots()[3], a, proof);
  EXPECT_NE(s.message().find("root2 mismatch"), absl::string_view::npos) << s;
  EXPECT_TRUE(VerifyConsistency(3, 7, tree.roots()[3], tree.roots()[7], proof).ok());
}

TEST(MerkleVerifyTest, HugeSizesDoNotOverflow) {
  const Hash h = LeafHash("x");
  const uint64_t max = UINT64_MAX;
  for (uint64_t index : {uint64_t{0}, max / 2, max - 2, max - 1}) {
    for (size_t len : {0, 1, 63, 64, 65}) {
      std::vector<Hash> proof(len, h);
      EXPECT_FALSE(VerifyInclusion(index, max, h, proof, h).ok()) << index << " " << len;
    }
  }
  for (uint64_t size1 : {uint64_t{1}, max / 2, max - 1}) {
    for (size_t len : {0, 1, 64, 65}) {
      std::vector<Hash> proof(len, h);
      EXPECT_FALSE(VerifyConsistency(size1, max, h, h, proof).ok()) << size1 << " " << len;
    }
  }
}

// ---------------------------------------------------------------------------
// Compact ranges.

// The fewest aligned perfect subtrees that cover [begin, end), by dynamic
// programming over every cover (small ranges only).
size_t FewestCover(uint64_t begin, uint64_t end) {
  std::vector<size_t> best(end - begin + 1, SIZE_MAX);
  best[0] = 0;
  for (uint64_t at = begin; at < end; ++at) {
    if (best[at - begin] == SIZE_MAX) continue;
    for (uint32_t level = 0; level < 64; ++level) {
      const uint64_t width = uint64_t{1} << level;
      if (at % width != 0 || width > end - at) break;
      size_t& next = best[at + width - begin];
      next = std::min(next, best[at - begin] + 1);
    }
  }
  return best.back();
}

void CheckRange(uint64_t begin, uint64_t end) {
  SCOPED_TRACE(absl::StrCat("[", begin, ", ", end, ")"));
  const std::vector<NodeId> ids = RangeNodes(begin, end);
  uint64_t at = begin;
  for (size_t i = 0; i < ids.size(); ++i) {
    const NodeId id = ids[i];
    ASSERT_LT(id.level, 64u);
    ASSERT_LE(id.index, UINT64_MAX >> id.level);
    EXPECT_EQ(id.index << id.level, at) << "node " << i << " " << Describe(id);
    const uint64_t width = uint64_t{1} << id.level;
    ASSERT_LE(width, end - at) << "node " << i << " " << Describe(id);
    at += width;
    // Fewest nodes: no two neighbours are siblings that one node would cover.
    if (i > 0 && ids[i - 1].level == id.level) {
      EXPECT_FALSE(ids[i - 1].index % 2 == 0 && ids[i - 1].index + 1 == id.index)
          << "mergeable siblings at " << i;
    }
  }
  EXPECT_EQ(at, end);
  if (end <= 130) {
    EXPECT_EQ(ids.size(), FewestCover(begin, end));
  }
  // Sizes rise strictly, then fall strictly; the largest size may appear
  // twice, once on each side of the split.
  size_t peak = 0;
  while (peak + 1 < ids.size() && ids[peak + 1].level > ids[peak].level) ++peak;
  if (peak + 1 < ids.size() && ids[peak + 1].level == ids[peak].level) ++peak;
  for (size_t i = peak + 1; i < ids.size(); ++i) EXPECT_LT(ids[i].level, ids[i - 1].level);
}

TEST(MerkleRangeTest, CoversExactlyWithAlignedPerfectSubtrees) {
  for (uint64_t begin = 0; begin <= 130; ++begin) {
    for (uint64_t end = begin; end <= 130; ++end) CheckRange(begin, end);
  }
  const uint64_t max = UINT64_MAX;
  for (auto [b, e] : std::vector<std::pair<uint64_t, uint64_t>>{{0, max},
                                                                {1, max},
                                                                {max - 1, max},
                                                                {max / 2, max},
                                                                {uint64_t{1} << 63, max},
                                                                {12345, uint64_t{1} << 40},
                                                                {3, (uint64_t{1} << 62) + 5}}) {
    CheckRange(b, e);
  }
}

TEST(MerkleRangeTest, KnownDecompositions) {
  EXPECT_TRUE(RangeNodes(5, 5).empty());
  const std::vector<NodeId> want = {{0, 3}, {2, 1}, {3, 1}, {1, 8}, {0, 18}};
  EXPECT_EQ(RangeNodes(3, 19), want);
  for (uint64_t size = 0; size <= 300; ++size) {
    EXPECT_EQ(RangeNodes(0, size).size(), static_cast<size_t>(std::popcount(size)));
  }
}

// ---------------------------------------------------------------------------
// The frontier.

TEST(MerkleFrontierTest, AppendEmitsExactlyTheNewCompleteNodesBottomUp) {
  MerkleFrontier frontier;
  std::map<std::pair<uint32_t, uint64_t>, Hash> seen;
  std::vector<Hash> leaves;
  for (uint64_t i = 0; i < 300; ++i) {
    leaves.push_back(LeafHash(Decimal(i)));
    std::vector<NodeId> emitted;
    frontier.Append(leaves.back(), [&](NodeId id, const Hash& hash) {
      emitted.push_back(id);
      EXPECT_TRUE(seen.emplace(std::make_pair(id.level, id.index), hash).second);
      const uint64_t first = id.index << id.level;
      EXPECT_EQ(hash, NaiveRoot(leaves, first, first + (uint64_t{1} << id.level)));
    });
    ASSERT_FALSE(emitted.empty());
    EXPECT_EQ(emitted[0], (NodeId{0, i}));
    // Bottom-up: each node is the parent of the one before it; the last one
    // is the largest complete node ending at the new leaf.
    for (size_t k = 1; k < emitted.size(); ++k) {
      EXPECT_EQ(emitted[k], (NodeId{emitted[k - 1].level + 1, emitted[k - 1].index >> 1}));
      EXPECT_EQ(emitted[k - 1].index % 2, 1u);
    }
    EXPECT_EQ(emitted.size(), static_cast<size_t>(std::countr_zero(i + 1)) + 1);
    EXPECT_EQ(frontier.size(), i + 1);
    // The frontier holds the hashes of RangeNodes(0, size).
    const std::vector<NodeId> range = RangeNodes(0, i + 1);
    ASSERT_EQ(frontier.nodes().size(), range.size());
    for (size_t k = 0; k < range.size(); ++k) {
      EXPECT_EQ(frontier.nodes()[k], seen.at({range[k].level, range[k].index}));
    }
  }
  // Every complete node of the 300-leaf tree, once.
  EXPECT_EQ(seen.size(), 2 * 300u - std::popcount(300u));
}

TEST(MerkleFrontierTest, FromNodesRoundTrip) {
  MerkleFrontier frontier;
  EXPECT_EQ(frontier.Root(), EmptyTreeHash());
  for (uint64_t i = 0; i < 70; ++i) {
    frontier.Append(LeafHash(Decimal(i)));
    absl::StatusOr<MerkleFrontier> copy =
        MerkleFrontier::FromNodes(frontier.size(), frontier.nodes());
    ASSERT_TRUE(copy.ok()) << copy.status();
    EXPECT_EQ(copy->size(), frontier.size());
    EXPECT_EQ(copy->Root(), frontier.Root());
    // A restored frontier keeps appending identically.
    MerkleFrontier a = frontier;
    a.Append(LeafHash("next"));
    copy->Append(LeafHash("next"));
    EXPECT_EQ(copy->Root(), a.Root());

    std::vector<Hash> more = frontier.nodes();
    more.push_back(LeafHash("extra"));
    EXPECT_EQ(MerkleFrontier::FromNodes(frontier.size(), more).status().code(),
              absl::StatusCode::kInvalidArgument);
    std::vector<Hash> fewer = frontier.nodes();
    fewer.pop_back();
    EXPECT_EQ(MerkleFrontier::FromNodes(frontier.size(), fewer).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  absl::StatusOr<MerkleFrontier> empty = MerkleFrontier::FromNodes(0, {});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->Root(), EmptyTreeHash());
}

TEST(MerkleFrontierTest, AppendNodeExtendsByRangeNodes) {
  for (uint64_t n :
       {uint64_t{1}, uint64_t{2}, uint64_t{7}, uint64_t{64}, uint64_t{100}, uint64_t{130}}) {
    MemoryTree tree = TreeOfDecimals(n);
    for (uint64_t b = 0; b <= n; ++b) {
      SCOPED_TRACE(absl::StrCat("from ", b, " to ", n));
      MerkleFrontier prefix;
      for (uint64_t i = 0; i < b; ++i) prefix.Append(tree.leaves()[i]);
      for (const NodeId& id : RangeNodes(b, n)) {
        const absl::Status s = prefix.AppendNode(id, tree.nodes().at({id.level, id.index}));
        ASSERT_TRUE(s.ok()) << s;
      }
      EXPECT_EQ(prefix.size(), n);
      EXPECT_EQ(prefix.Root(), tree.roots()[n]);
      EXPECT_EQ(prefix.nodes(), tree.frontier().nodes());
    }
  }
}

TEST(MerkleFrontierTest, AppendNodeRejectsNodesNotAtTheEdge) {
  MerkleFrontier frontier;
  for (int i = 0; i < 6; ++i) frontier.Append(LeafHash(Decimal(i)));
  const Hash h = LeafHash("n");
  for (NodeId id : {NodeId{0, 5}, NodeId{0, 7}, NodeId{2, 1}, NodeId{3, 0}, NodeId{64, 0},
                    NodeId{1, UINT64_MAX}, NodeId{63, 1}}) {
    EXPECT_EQ(frontier.AppendNode(id, h).code(), absl::StatusCode::kInvalidArgument)
        << Describe(id);
  }
  EXPECT_EQ(frontier.size(), 6u);
  EXPECT_TRUE(frontier.AppendNode(NodeId{1, 3}, h).ok());
  EXPECT_EQ(frontier.size(), 8u);
  EXPECT_EQ(frontier.nodes().size(), 1u);
}

// ---------------------------------------------------------------------------
// Our own trees: proofs match the RFC definitions, verify, and break when
// tampered with.

// Bits to flip in each element of a proof: all of them for small trees, a
// spread of 8 (one per 32-bit word) otherwise.
std::vector<size_t> BitsToFlip(uint64_t size, uint64_t salt) {
  std::vector<size_t> bits;
  if (size <= 16) {
    for (size_t b = 0; b < 256; ++b) bits.push_back(b);
  } else {
    for (size_t w = 0; w < 8; ++w) bits.push_back(w * 32 + (salt + w * 5) % 32);
  }
  return bits;
}

void CheckInclusion(MemoryTree& tree, uint64_t index, uint64_t size) {
  SCOPED_TRACE(absl::StrCat("inclusion of ", index, " in ", size));
  const std::vector<Hash>& leaves = tree.leaves();
  const Hash& leaf = leaves[index];
  const Hash& root = tree.roots()[size];
  tree.set_view_size(size);
  tree.ResetCounters();
  absl::StatusOr<std::vector<Hash>> got = InclusionProof(index, size, tree);
  ASSERT_TRUE(got.ok()) << got.status();
  const std::vector<Hash>& proof = *got;
  EXPECT_LE(tree.read_calls(), 1);
  EXPECT_EQ(proof, NaivePath(leaves, index, 0, size));
  ASSERT_TRUE(VerifyInclusion(index, size, leaf, proof, root).ok());

  for (size_t e = 0; e < proof.size(); ++e) {
    for (size_t bit : BitsToFlip(size, index + e)) {
      std::vector<Hash> bad = proof;
      bad[e] = FlipBit(bad[e], bit);
      EXPECT_FALSE(VerifyInclusion(index, size, leaf, bad, root).ok()) << e << ":" << bit;
    }
  }
  for (size_t bit : BitsToFlip(size, index)) {
    EXPECT_FALSE(VerifyInclusion(index, size, FlipBit(leaf, bit), proof, root).ok());
    EXPECT_FALSE(VerifyInclusion(index, size, leaf, proof, FlipBit(root, bit)).ok());
  }
  // Wrong index, with the same leaf and root.
  for (uint64_t other : {index - 1, index + 1, index ^ 2, index ^ 1}) {
    if (other == index || other >= size) continue;
    EXPECT_FALSE(VerifyInclusion(other, size, leaf, proof, root).ok()) << "index " << other;
  }
  // Wrong tree: another size, with that tree's real root.
  for (uint64_t other : {size - 1, size + 1, size * 2, size / 2}) {
    if (other == size || other <= index || other >= tree.roots().size()) continue;
    EXPECT_FALSE(VerifyInclusion(index, other, leaf, proof, tree.roots()[other]).ok())
        << "size " << other;
  }
  // Wrong shape.
  std::vector<Hash> longer = proof;
  longer.push_back(root);
  EXPECT_FALSE(VerifyInclusion(index, size, leaf, longer, root).ok());
  std::vector<Hash> prefixed = proof;
  prefixed.insert(prefixed.begin(), leaf);
  EXPECT_FALSE(VerifyInclusion(index, size, leaf, prefixed, root).ok());
  if (!proof.empty()) {
    std::vector<Hash> shorter(proof.begin(), proof.end() - 1);
    EXPECT_FALSE(VerifyInclusion(index, size, leaf, shorter, root).ok());
  }
}

void CheckConsistency(MemoryTree& tree, uint64_t size1, uint64_t size2) {
  SCOPED_TRACE(absl::StrCat("consistency of ", size1, " and ", size2));
  const std::vector<Hash>& roots = tree.roots();
  const Hash& root1 = roots[size1];
  const Hash& root2 = roots[size2];
  tree.set_view_size(size2);
  tree.ResetCounters();
  absl::StatusOr<std::vector<Hash>> got = ConsistencyProof(size1, size2, tree);
  ASSERT_TRUE(got.ok()) << got.status();
  const std::vector<Hash>& proof = *got;
  EXPECT_LE(tree.read_calls(), 1);
  EXPECT_EQ(proof, NaiveConsistency(tree.leaves(), size1, size2));
  ASSERT_TRUE(VerifyConsistency(size1, size2, root1, root2, proof).ok());
  if (size1 == 0) return;  // nothing to tamper with: any proof but the empty one fails

  for (size_t e = 0; e < proof.size(); ++e) {
    for (size_t bit : BitsToFlip(size2, size1 + e)) {
      std::vector<Hash> bad = proof;
      bad[e] = FlipBit(bad[e], bit);
      EXPECT_FALSE(VerifyConsistency(size1, size2, root1, root2, bad).ok()) << e << ":" << bit;
    }
  }
  for (size_t bit : BitsToFlip(size2, size1)) {
    EXPECT_FALSE(VerifyConsistency(size1, size2, FlipBit(root1, bit), root2, proof).ok());
    EXPECT_FALSE(VerifyConsistency(size1, size2, root1, FlipBit(root2, bit), proof).ok());
  }
  if (size1 != size2) {
    EXPECT_FALSE(VerifyConsistency(size1, size2, root2, root1, proof).ok()) << "swapped";
  }
  // Wrong sizes, with the claimed roots and with the real roots of those trees.
  for (uint64_t other : {size1 - 1, size1 + 1, size1 ^ 2, size1 * 2, size1 / 2}) {
    if (other == size1 || other > size2) continue;
    EXPECT_FALSE(VerifyConsistency(other, size2, root1, root2, proof).ok()) << "size1 " << other;
    if (other == 0 && proof.empty()) continue;  // the empty tree is consistent with all
    EXPECT_FALSE(VerifyConsistency(other, size2, roots[other], root2, proof).ok())
        << "size1 " << other;
  }
  for (uint64_t other : {size2 - 1, size2 + 1, size2 * 2, size2 / 2}) {
    if (other == size2 || other < size1 || other >= roots.size()) continue;
    EXPECT_FALSE(VerifyConsistency(size1, other, root1, roots[other], proof).ok())
        << "size2 " << other;
  }
  // Wrong shape.
  for (const Hash& extra : {root1, root2, LeafHash("x")}) {
    std::vector<Hash> longer = proof;
    longer.push_back(extra);
    EXPECT_FALSE(VerifyConsistency(size1, size2, root1, root2, longer).ok());
    std::vector<Hash> prefixed = proof;
    prefixed.insert(prefixed.begin(), extra);
    EXPECT_FALSE(VerifyConsistency(size1, size2, root1, root2, prefixed).ok());
  }
  if (!proof.empty()) {
    std::vector<Hash> shorter(proof.begin(), proof.end() - 1);
    EXPECT_FALSE(VerifyConsistency(size1, size2, root1, root2, shorter).ok());
    EXPECT_FALSE(VerifyConsistency(size1, size2, root1, root2, {}).ok());
  }
}

TEST(MerkleTreeTest, EverySizeUpTo130) {
  MemoryTree tree;
  for (uint64_t n = 1; n <= 130; ++n) {
    tree.Append(Decimal(n - 1));
    SCOPED_TRACE(absl::StrCat("size ", n));
    const Hash naive = NaiveRoot(tree.leaves(), 0, n);
    EXPECT_EQ(tree.frontier().Root(), naive);
    tree.set_view_size(n);
    absl::StatusOr<Hash> root_at = RootAt(n, tree);
    ASSERT_TRUE(root_at.ok()) << root_at.status();
    EXPECT_EQ(*root_at, naive);
    for (uint64_t i = 0; i < n; ++i) CheckInclusion(tree, i, n);
  }
  // Every earlier root from the full store.
  for (uint64_t s = 0; s <= 130; ++s) {
    tree.set_view_size(s);
    absl::StatusOr<Hash> root_at = RootAt(s, tree);
    ASSERT_TRUE(root_at.ok()) << root_at.status();
    EXPECT_EQ(*root_at, NaiveRoot(tree.leaves(), 0, s)) << s;
  }
}

TEST(MerkleTreeTest, ConsistencyOfEveryPairUpTo70) {
  MemoryTree tree = TreeOfDecimals(71);
  for (uint64_t size2 = 0; size2 <= 70; ++size2) {
    for (uint64_t size1 = 0; size1 <= size2; ++size1) CheckConsistency(tree, size1, size2);
  }
}

TEST(MerkleTreeTest, LargerTrees) {
  for (uint64_t n : {uint64_t{1000}, uint64_t{4097}}) {
    MemoryTree tree = TreeOfDecimals(n + 1);
    SCOPED_TRACE(absl::StrCat("size ", n));
    tree.set_view_size(n);
    absl::StatusOr<Hash> root_at = RootAt(n, tree);
    ASSERT_TRUE(root_at.ok()) << root_at.status();
    EXPECT_EQ(*root_at, NaiveRoot(tree.leaves(), 0, n));
    EXPECT_EQ(tree.roots()[n], *root_at);
    std::vector<uint64_t> indexes = {0, 1, n / 2, n - 2, n - 1};
    for (uint64_t i = 3; i < n; i += 97) indexes.push_back(i);
    for (uint64_t i : indexes) CheckInclusion(tree, i, n);
    for (uint64_t size1 :
         {uint64_t{1}, uint64_t{2}, uint64_t{3}, uint64_t{512}, uint64_t{999}, n / 3, n - 1, n}) {
      CheckConsistency(tree, size1, n);
    }
  }
}

TEST(MerkleTreeTest, ProofArgumentsAreChecked) {
  MemoryTree tree = TreeOfDecimals(5);
  EXPECT_EQ(InclusionProof(5, 5, tree).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(InclusionProof(0, 0, tree).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ConsistencyProof(4, 3, tree).status().code(), absl::StatusCode::kInvalidArgument);
  tree.ResetCounters();
  absl::StatusOr<std::vector<Hash>> none = ConsistencyProof(0, 5, tree);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  none = ConsistencyProof(5, 5, tree);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  none = InclusionProof(0, 1, tree);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(tree.read_calls(), 0);
}

// A reader that fails or misbehaves: its status reaches the caller.
class FailingReader final : public NodeReader {
 public:
  explicit FailingReader(absl::StatusOr<std::vector<Hash>> result) : result_(std::move(result)) {}
  absl::StatusOr<std::vector<Hash>> ReadNodes(const std::vector<NodeId>&) override {
    return result_;
  }

 private:
  absl::StatusOr<std::vector<Hash>> result_;
};

TEST(MerkleTreeTest, ReaderErrorsPropagate) {
  FailingReader unavailable(absl::UnavailableError("disk"));
  EXPECT_EQ(InclusionProof(1, 5, unavailable).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ConsistencyProof(3, 5, unavailable).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(RootAt(5, unavailable).status().code(), absl::StatusCode::kUnavailable);
  FailingReader short_answer(std::vector<Hash>{});
  EXPECT_FALSE(InclusionProof(1, 5, short_answer).ok());
  EXPECT_FALSE(RootAt(5, short_answer).ok());
}

// ---------------------------------------------------------------------------
// A million-leaf tree, hashed on demand: proofs read only complete nodes and
// O(log n) of them, in one batch.

class LazyTree final : public NodeReader {
 public:
  explicit LazyTree(uint64_t size) : size_(size) {}

  absl::StatusOr<std::vector<Hash>> ReadNodes(const std::vector<NodeId>& ids) override {
    ++read_calls_;
    nodes_read_ += ids.size();
    std::vector<Hash> hashes;
    for (const NodeId& id : ids) {
      const bool complete = id.level < 64 && id.index < (size_ >> id.level);
      EXPECT_TRUE(complete) << "read of incomplete node " << Describe(id);
      if (!complete) return absl::NotFoundError("no such node");
      hashes.push_back(Node(id.level, id.index));
    }
    return hashes;
  }

  Hash Node(uint32_t level, uint64_t index) {
    if (level == 0) return LeafHash(Decimal(index));
    if (level < kMemoLevel)
      return NodeHash(Node(level - 1, 2 * index), Node(level - 1, 2 * index + 1));
    auto it = memo_.find({level, index});
    if (it != memo_.end()) return it->second;
    const Hash h = NodeHash(Node(level - 1, 2 * index), Node(level - 1, 2 * index + 1));
    memo_.emplace(std::make_pair(level, index), h);
    return h;
  }

  int read_calls() const { return read_calls_; }
  size_t nodes_read() const { return nodes_read_; }
  void ResetCounters() {
    read_calls_ = 0;
    nodes_read_ = 0;
  }

 private:
  static constexpr uint32_t kMemoLevel = 10;
  uint64_t size_;
  std::map<std::pair<uint32_t, uint64_t>, Hash> memo_;
  int read_calls_ = 0;
  size_t nodes_read_ = 0;
};

TEST(MerkleTreeTest, MillionLeavesReadsLogarithmicallyManyCompleteNodes) {
  constexpr uint64_t kSize = 1'000'000;
  const double bound = 4 * std::log2(static_cast<double>(kSize)) + 4;
  LazyTree lazy(kSize);

  MerkleFrontier frontier;
  for (uint64_t i = 0; i < kSize; ++i) frontier.Append(LeafHash(Decimal(i)));
  const Hash root = frontier.Root();
  absl::StatusOr<Hash> root_at = RootAt(kSize, lazy);
  ASSERT_TRUE(root_at.ok()) << root_at.status();
  EXPECT_EQ(*root_at, root);

  for (uint64_t index : {uint64_t{0}, uint64_t{1}, uint64_t{123456}, uint64_t{524287},
                         uint64_t{524288}, uint64_t{999999}, kSize - 2}) {
    lazy.ResetCounters();
    absl::StatusOr<std::vector<Hash>> proof = InclusionProof(index, kSize, lazy);
    ASSERT_TRUE(proof.ok()) << proof.status();
    EXPECT_EQ(lazy.read_calls(), 1) << index;
    EXPECT_LT(static_cast<double>(lazy.nodes_read()), bound) << index;
    EXPECT_TRUE(VerifyInclusion(index, kSize, LeafHash(Decimal(index)), *proof, root).ok())
        << index;
  }

  // Consistency with smaller trees, whose roots come from a second frontier.
  MerkleFrontier old;
  std::map<uint64_t, Hash> old_roots;
  const std::vector<uint64_t> sizes1 = {1, 3, 1000, 65536, 333333, 999999};
  for (uint64_t i = 0; i < kSize; ++i) {
    old.Append(LeafHash(Decimal(i)));
    for (uint64_t s : sizes1) {
      if (old.size() == s) old_roots[s] = old.Root();
    }
    if (old.size() == sizes1.back()) break;
  }
  for (uint64_t size1 : sizes1) {
    lazy.ResetCounters();
    absl::StatusOr<std::vector<Hash>> proof = ConsistencyProof(size1, kSize, lazy);
    ASSERT_TRUE(proof.ok()) << proof.status();
    EXPECT_EQ(lazy.read_calls(), 1) << size1;
    EXPECT_LT(static_cast<double>(lazy.nodes_read()), bound) << size1;
    EXPECT_TRUE(VerifyConsistency(size1, kSize, old_roots.at(size1), root, *proof).ok()) << size1;
  }
}

}  // namespace
}  // namespace leadvault::audit
