// MemoryJournal: a ReconcileJournal that keeps operations and per-lab records
// in memory, standing in for the state store in tests and benchmarks, and
// able to hand the store's view back as PlannedLab input for the next run.
// Thread-safe. Header-only so that bench/ can use it without the test fakes
// library (which links gtest).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "provisioner/reconciler.h"

namespace darasa {

class MemoryJournal : public ReconcileJournal {
 public:
  struct Operation {
    int64_t id = 0;
    std::string labId;
    ActionKind kind = ActionKind::kCreate;
    std::string detail;
    bool ended = false;
    Status result;
  };
  struct LabRecord {
    LabPhase phase = LabPhase::kPending;
    std::string resourceId;
    std::vector<Endpoint> endpoints;
    int64_t generation = 0;
    std::optional<Status> lastError;
    int errorsRecorded = 0;  // recordError calls for this lab
    bool known = false;      // true when the lab was declared with know()
  };

  // Declares a lab the store knows; records for undeclared labs are kept
  // too unless ignoreUnknown(true) (the store ignores orphans it never knew).
  void know(const std::string& labId) {
    std::lock_guard lk(mu_);
    labs_[labId].known = true;
  }
  void ignoreUnknown(bool on) {
    std::lock_guard lk(mu_);
    ignoreUnknown_ = on;
  }
  // Every later call fails with `error` (an ok Status stops that).
  void failAll(Status error) {
    std::lock_guard lk(mu_);
    failAll_ = std::move(error);
  }
  // Each call sleeps this long (real time) while marked active, so that a
  // test can see whether calls overlap.
  void setCallDelay(std::chrono::milliseconds d) {
    std::lock_guard lk(mu_);
    delay_ = d;
  }

  Result<int64_t> beginOperation(const std::string& labId, ActionKind kind,
                                 const std::string& detail) override {
    Active a(*this);
    std::lock_guard lk(mu_);
    if (!failAll_.isOk()) return failAll_;
    Operation op;
    op.id = static_cast<int64_t>(ops_.size()) + 1;
    op.labId = labId;
    op.kind = kind;
    op.detail = detail;
    ops_.push_back(op);
    return op.id;
  }
  Status endOperation(int64_t opId, const Status& result) override {
    Active a(*this);
    std::lock_guard lk(mu_);
    if (!failAll_.isOk()) return failAll_;
    if (opId < 1 || opId > static_cast<int64_t>(ops_.size())) return notFoundError("no operation");
    ops_[opId - 1].ended = true;
    ops_[opId - 1].result = result;
    return Status::ok();
  }
  Status recordObserved(const std::string& labId, LabPhase phase, const ObservedLab& observed) override {
    Active a(*this);
    std::lock_guard lk(mu_);
    if (!failAll_.isOk()) return failAll_;
    LabRecord* r = record(labId);
    if (!r) return Status::ok();
    r->phase = phase;
    r->resourceId = observed.resourceId;
    r->endpoints = observed.endpoints;
    r->generation = observed.generation;
    return Status::ok();
  }
  Status recordReady(const std::string& labId, const ObservedLab& observed) override {
    Active a(*this);
    std::lock_guard lk(mu_);
    if (!failAll_.isOk()) return failAll_;
    LabRecord* r = record(labId);
    if (!r) return Status::ok();
    r->phase = LabPhase::kReady;
    r->resourceId = observed.resourceId;
    r->endpoints = observed.endpoints;
    r->generation = observed.generation;
    r->lastError.reset();
    return Status::ok();
  }
  Status recordError(const std::string& labId, const Status& error) override {
    Active a(*this);
    std::lock_guard lk(mu_);
    if (!failAll_.isOk()) return failAll_;
    LabRecord* r = record(labId);
    if (!r) return Status::ok();
    r->phase = LabPhase::kFailed;
    r->lastError = error;
    ++r->errorsRecorded;
    return Status::ok();
  }
  Status recordDestroyed(const std::string& labId) override {
    Active a(*this);
    std::lock_guard lk(mu_);
    if (!failAll_.isOk()) return failAll_;
    LabRecord* r = record(labId);
    if (!r) return Status::ok();
    r->phase = LabPhase::kDestroyed;
    r->resourceId.clear();
    r->endpoints.clear();
    return Status::ok();
  }

  // --- What was recorded.
  std::vector<Operation> operations() const {
    std::lock_guard lk(mu_);
    return ops_;
  }
  std::vector<Operation> operationsFor(const std::string& labId) const {
    std::lock_guard lk(mu_);
    std::vector<Operation> out;
    for (const auto& op : ops_)
      if (op.labId == labId) out.push_back(op);
    return out;
  }
  std::optional<LabRecord> lab(const std::string& labId) const {
    std::lock_guard lk(mu_);
    auto it = labs_.find(labId);
    if (it == labs_.end()) return std::nullopt;
    return it->second;
  }
  LabPhase phase(const std::string& labId) const {
    auto r = lab(labId);
    return r ? r->phase : LabPhase::kPending;
  }
  // The most journal calls that were running at once.
  int maxConcurrentCalls() const { return maxActive_.load(); }

  // The store's view of a lab as planner input.
  PlannedLab planned(const LabSpec& spec, DesiredState desired) const {
    PlannedLab p;
    p.spec = spec;
    p.desired = desired;
    std::lock_guard lk(mu_);
    auto it = labs_.find(spec.labId);
    if (it != labs_.end()) {
      p.phase = it->second.phase;
      p.resourceId = it->second.resourceId;
    }
    return p;
  }
  std::vector<PlannedLab> planned(const std::vector<LabSpec>& specs, DesiredState desired) const {
    std::vector<PlannedLab> out;
    out.reserve(specs.size());
    for (const auto& s : specs) out.push_back(planned(s, desired));
    return out;
  }

 private:
  // Marks a call active for its duration (before the lock, so overlapping
  // callers are seen).
  struct Active {
    explicit Active(MemoryJournal& j) : j_(j) {
      int now = ++j_.active_;
      int prev = j_.maxActive_.load();
      while (now > prev && !j_.maxActive_.compare_exchange_weak(prev, now)) {
      }
      std::chrono::milliseconds d;
      {
        std::lock_guard lk(j_.mu_);
        d = j_.delay_;
      }
      if (d.count() > 0) std::this_thread::sleep_for(d);
    }
    ~Active() { --j_.active_; }
    MemoryJournal& j_;
  };

  LabRecord* record(const std::string& labId) {
    auto it = labs_.find(labId);
    if (it != labs_.end()) return &it->second;
    if (ignoreUnknown_) return nullptr;
    return &labs_[labId];
  }

  mutable std::mutex mu_;
  std::vector<Operation> ops_;
  std::map<std::string, LabRecord> labs_;
  bool ignoreUnknown_ = false;
  Status failAll_;
  std::chrono::milliseconds delay_{0};
  std::atomic<int> active_{0};
  std::atomic<int> maxActive_{0};
};

}  // namespace darasa
