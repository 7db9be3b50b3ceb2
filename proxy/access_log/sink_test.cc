#include "proxy/access_log/sink.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

namespace weft::proxy::access_log {
namespace {

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class SinkTest : public ::testing::Test {
 protected:
  double lines(std::string_view outcome) { return metrics.access_log_lines(outcome).Value(); }

  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("weft-sink-test-" + std::to_string(::getpid()));
  metrics::Metrics metrics;

  void SetUp() override { std::filesystem::create_directories(dir); }
  void TearDown() override { std::filesystem::remove_all(dir); }
};

TEST_F(SinkTest, WorkersLinesReachTheFileInOrderAndAreCounted) {
  const auto path = dir / "access.log";
  {
    Sink sink(metrics);
    sink.open(path);
    LineBuffer first(&sink);
    LineBuffer second(&sink);
    first.bytes() += "a1\n";
    first.added();
    first.bytes() += "a2\n";
    first.added();
    second.bytes() += "b1\n";
    second.added();
    first.flush();
    second.flush();
    second.flush();  // nothing new: nothing queued
    sink.stop();
  }
  EXPECT_EQ(read_file(path), "a1\na2\nb1\n");
  EXPECT_EQ(lines("written"), 3);
  EXPECT_EQ(lines("dropped_queue_full"), 0);
}

TEST_F(SinkTest, AChunkFullBufferIsHandedOverWithoutAFlush) {
  const auto path = dir / "access.log";
  Sink sink(metrics);
  sink.open(path);
  LineBuffer buffer(&sink);
  const std::string line(1000, 'x');
  std::size_t added = 0;
  while (buffer.bytes().size() + line.size() + 1 < LineBuffer::kChunkBytes) {
    buffer.bytes() += line + "\n";
    buffer.added();
    ++added;
  }
  buffer.bytes() += line + "\n";
  buffer.added();  // now past kChunkBytes: submitted
  ++added;
  EXPECT_TRUE(buffer.bytes().empty());
  sink.stop();
  EXPECT_EQ(lines("written"), static_cast<double>(added));
  EXPECT_EQ(read_file(path).size(), added * (line.size() + 1));
}

TEST_F(SinkTest, AppendsToAnExistingFileAndReopensOnlyOnANewPath) {
  const auto first = dir / "first.log";
  const auto second = dir / "second.log";
  std::ofstream(first) << "kept\n";
  Sink sink(metrics);
  sink.open(first);
  sink.submit("one\n", 1);
  sink.open(first);  // same path: same file
  sink.submit("two\n", 1);
  sink.open(second);
  sink.submit("three\n", 1);
  sink.stop();
  // The first file may have been switched before its lines were written:
  // every line is in one of the files, in order.
  const auto a = read_file(first);
  const auto b = read_file(second);
  EXPECT_EQ(a.substr(0, 5), "kept\n");
  EXPECT_EQ(a.substr(5) + b, "one\ntwo\nthree\n");
  EXPECT_EQ(lines("written"), 3);
}

TEST_F(SinkTest, AFileThatCannotBeOpenedDropsItsLinesAndSaysSo) {
  Sink sink(metrics);
  sink.open(dir / "missing-directory" / "access.log");
  EXPECT_EQ(metrics.access_log_open_failures().Value(), 1);
  sink.submit("lost\n", 1);
  sink.stop();
  EXPECT_EQ(lines("dropped_write_failed"), 1);
  EXPECT_EQ(lines("written"), 0);
}

// A reader that stops reading blocks the writer thread only: the queue
// fills to its cap, and what does not fit is dropped and counted, at once.
TEST_F(SinkTest, AStalledWriterDropsPastTheQueueCap) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  auto sink = std::make_unique<Sink>(metrics);
  sink->open("/proc/self/fd/" + std::to_string(fds[1]));
  ::close(fds[1]);  // the sink holds its own
  const std::string chunk(LineBuffer::kChunkBytes, 'x');
  const std::size_t chunks = Sink::kMaxQueuedBytes / chunk.size() + 8;
  std::size_t refused = 0;
  for (std::size_t i = 0; i < chunks; ++i) {
    if (!sink->submit(std::string(chunk), 10)) ++refused;
  }
  EXPECT_GE(refused, 6u);  // the pipe holds 64 KiB, the writer one chunk
  EXPECT_EQ(lines("dropped_queue_full"), static_cast<double>(refused * 10));
  EXPECT_GT(metrics.access_log_queued_bytes().Value(), Sink::kMaxQueuedBytes - 3 * chunk.size());
  // The reader drains the pipe: everything queued is written.
  std::size_t received = 0;
  std::thread reader([&] {
    std::vector<char> buffer(1 << 16);
    for (;;) {
      const auto n = ::read(fds[0], buffer.data(), buffer.size());
      if (n <= 0) return;
      received += static_cast<std::size_t>(n);
    }
  });
  sink.reset();  // writes what is queued, closes the pipe: the reader ends
  reader.join();
  ::close(fds[0]);
  EXPECT_EQ(received, (chunks - refused) * chunk.size());
  EXPECT_EQ(lines("written"), static_cast<double>((chunks - refused) * 10));
  EXPECT_EQ(metrics.access_log_queued_bytes().Value(), 0);
}

}  // namespace
}  // namespace weft::proxy::access_log
