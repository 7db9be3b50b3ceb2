// Watches manifest directories with inotify and calls back once per burst
// of changes: an editor's save or a `kubectl`-style rewrite touches a file
// several times, and one reload covers them all.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "common/result.h"

namespace weft::cp::sources {

class DirectoryWatch {
 public:
  using Callback = std::function<void()>;

  // Starts a thread that calls `changed` after a burst of changes has been
  // quiet for `quiet` (the push debounce).
  static Result<std::unique_ptr<DirectoryWatch>> start(
      const std::vector<std::filesystem::path>& roots, std::chrono::milliseconds quiet,
      Callback changed);
  ~DirectoryWatch();
  DirectoryWatch(const DirectoryWatch&) = delete;
  DirectoryWatch& operator=(const DirectoryWatch&) = delete;

 private:
  DirectoryWatch(int inotify, int stop, std::chrono::milliseconds quiet, Callback changed);
  void run();
  bool add_tree(const std::filesystem::path& root);
  // Reads pending events; new directories get watches. False on error.
  bool drain();

  std::map<int, std::filesystem::path> directories_;  // watch descriptor -> path
  int inotify_;
  int stop_;  // eventfd that wakes the thread to exit
  std::chrono::milliseconds quiet_;
  Callback changed_;
  std::jthread thread_;
};

}  // namespace weft::cp::sources
