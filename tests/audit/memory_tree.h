// A complete in-memory Merkle tree for audit tests: every complete node, as a
// store keeps them, read back through NodeReader.
#ifndef LEADVAULT_TESTS_AUDIT_MEMORY_TREE_H_
#define LEADVAULT_TESTS_AUDIT_MEMORY_TREE_H_

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "audit/merkle.h"

namespace leadvault::audit {

class MemoryTree final : public NodeReader {
 public:
  void Append(const Hash& leaf) {
    frontier_.Append(leaf, [this](NodeId id, const Hash& hash) {
      nodes_[{id.level, id.index}] = hash;
    });
  }
  uint64_t size() const { return frontier_.size(); }

  absl::StatusOr<std::vector<Hash>> ReadNodes(const std::vector<NodeId>& ids) override {
    std::vector<Hash> out;
    out.reserve(ids.size());
    for (const NodeId& id : ids) {
      auto it = nodes_.find({id.level, id.index});
      if (it == nodes_.end()) return absl::NotFoundError("node not stored");
      out.push_back(it->second);
    }
    return out;
  }

 private:
  MerkleFrontier frontier_;
  std::map<std::pair<uint32_t, uint64_t>, Hash> nodes_;
};

}  // namespace leadvault::audit

#endif  // LEADVAULT_TESTS_AUDIT_MEMORY_TREE_H_
