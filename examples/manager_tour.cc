// The seed's manager program, then what Python's manager gives on top of
// it: a dict holding a list, read back as a proxy, updated by several
// processes; a KeyError as a status; and a stranger refused.
//
//   ./bazelw run //examples:manager_tour

#include <iostream>
#include <string>
#include <vector>

#include "multiprocess.h"

namespace {

void Work(mp::DictProxy d, mp::ListProxy l) {
  (void)d.SetItem(1, "1");
  (void)d.SetItem("2", 2);
  (void)d.SetItem(0.25, mp::Object());
  (void)l.Reverse();
}

int AppendSquares(mp::DictProxy shared, int worker) {
  absl::StatusOr<mp::ListProxy> squares =
      shared.GetItem<mp::ListProxy>("squares");
  if (!squares.ok()) return 1;
  return squares->Append(worker * worker).ok() ? 0 : 2;
}

int Fail(const absl::Status& status) {
  std::cerr << status << "\n";
  return 1;
}

}  // namespace

int main() {
  absl::StatusOr<mp::SyncManager> manager = mp::Manager();
  if (!manager.ok()) return Fail(manager.status());

  absl::StatusOr<mp::DictProxy> d = manager->Dict();
  absl::StatusOr<mp::ListProxy> l =
      manager->List(std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  if (!d.ok()) return Fail(d.status());
  if (!l.ok()) return Fail(l.status());
  mp::Process p(Work, *d, *l);
  if (absl::Status started = p.Start(); !started.ok()) return Fail(started);
  p.Join();
  std::cout << *d->Repr() << "\n" << *l->Repr() << "\n";

  // Nested: shared["squares"] = manager.list(), appended to by 4 processes.
  absl::StatusOr<mp::DictProxy> shared = manager->Dict();
  if (!shared.ok()) return Fail(shared.status());
  {
    absl::StatusOr<mp::ListProxy> squares = manager->List();
    if (!squares.ok()) return Fail(squares.status());
    if (absl::Status s = shared->SetItem("squares", *squares); !s.ok())
      return Fail(s);
  }
  std::vector<mp::Process> workers;
  for (int i = 0; i < 4; ++i) {
    workers.emplace_back(AppendSquares, *shared, i);
    if (absl::Status started = workers.back().Start(); !started.ok()) {
      return Fail(started);
    }
  }
  for (mp::Process& worker : workers) worker.Join();
  absl::StatusOr<mp::ListProxy> squares =
      shared->GetItem<mp::ListProxy>("squares");
  if (!squares.ok()) return Fail(squares.status());
  (void)squares->Sort();
  std::cout << "squares: " << *squares->Repr() << "\n";

  absl::StatusOr<mp::Object> missing = d->GetItem("missing");
  std::cout << "d['missing']: "
            << absl::StatusCodeToString(missing.status().code()) << ", "
            << missing.status().message().substr(
                   missing.status().message().find("KeyError"))
            << "\n";

  absl::StatusOr<mp::SyncManager> stranger =
      mp::SyncManager::Connect(manager->address(), "a guessed key");
  std::cout << "wrong authkey: "
            << absl::StatusCodeToString(stranger.status().code()) << "\n";

  absl::StatusOr<mp::ManagerStats> stats = manager->Stats();
  if (!stats.ok()) return Fail(stats.status());
  std::cout << "objects: " << stats->objects << "\n";
  if (absl::Status down = manager->Shutdown(); !down.ok()) return Fail(down);
  std::cout << "after shutdown: "
            << absl::StatusCodeToString(d->Len().status().code()) << "\n";
  return 0;
}
