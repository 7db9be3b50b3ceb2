#include "controlplane/sources/watch.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace weft::cp::sources {
namespace {

namespace fs = std::filesystem;

constexpr std::uint32_t kEvents = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
                                  IN_CREATE | IN_DELETE_SELF | IN_MOVE_SELF;

}  // namespace

Result<std::unique_ptr<DirectoryWatch>> DirectoryWatch::start(const std::vector<fs::path>& roots,
                                                              std::chrono::milliseconds quiet,
                                                              Callback changed) {
  int inotify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify < 0) return fail(ErrorCode::kIo, "inotify_init1: {}", std::strerror(errno));
  int stop = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop < 0) {
    ::close(inotify);
    return fail(ErrorCode::kIo, "eventfd: {}", std::strerror(errno));
  }
  std::unique_ptr<DirectoryWatch> watch(
      new DirectoryWatch(inotify, stop, quiet, std::move(changed)));
  for (const auto& root : roots) {
    // A single file is watched through its directory.
    auto directory = fs::is_directory(root) ? root : root.parent_path();
    if (!watch->add_tree(directory.empty() ? "." : directory)) {
      return fail(ErrorCode::kIo, "{}: cannot watch: {}", root.string(), std::strerror(errno));
    }
  }
  watch->thread_ = std::jthread([w = watch.get()] { w->run(); });
  return watch;
}

DirectoryWatch::DirectoryWatch(int inotify, int stop, std::chrono::milliseconds quiet,
                               Callback changed)
    : inotify_(inotify), stop_(stop), quiet_(quiet), changed_(std::move(changed)) {}

DirectoryWatch::~DirectoryWatch() {
  std::uint64_t one = 1;
  (void)::write(stop_, &one, sizeof one);
  if (thread_.joinable()) thread_.join();
  ::close(inotify_);
  ::close(stop_);
}

bool DirectoryWatch::add_tree(const fs::path& root) {
  int wd = inotify_add_watch(inotify_, root.c_str(), kEvents);
  if (wd < 0) return false;
  directories_[wd] = root;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_directory(ec)) continue;
    if (int sub = inotify_add_watch(inotify_, it->path().c_str(), kEvents); sub >= 0) {
      directories_[sub] = it->path();
    }
  }
  return true;
}

bool DirectoryWatch::drain() {
  alignas(inotify_event) std::array<char, std::size_t{16} * 1024> buffer{};
  while (true) {
    auto n = ::read(inotify_, buffer.data(), buffer.size());
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    for (ssize_t at = 0; at < n;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer.data() + at);
      at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      bool new_directory = (event->mask & IN_ISDIR) && (event->mask & (IN_CREATE | IN_MOVED_TO));
      if (auto parent = directories_.find(event->wd);
          new_directory && event->len > 0 && parent != directories_.end()) {
        // Files in a new subdirectory count too.
        (void)add_tree(parent->second / event->name);
      }
    }
  }
}

void DirectoryWatch::run() {
  std::array<pollfd, 2> fds{{{inotify_, POLLIN, 0}, {stop_, POLLIN, 0}}};
  while (true) {
    if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) return;
    if (fds[1].revents) return;
    if (!(fds[0].revents & POLLIN)) continue;
    if (!drain()) return;
    // Wait until the burst is over: no event for `quiet_`.
    while (true) {
      int ready = ::poll(fds.data(), fds.size(), static_cast<int>(quiet_.count()));
      if (ready > 0 && fds[1].revents) return;
      if (ready <= 0) break;
      if (!drain()) return;
    }
    changed_();
  }
}

}  // namespace weft::cp::sources
