#include "common/yaml_stream.h"

#include <yaml-cpp/eventhandler.h>

#include <sstream>
#include <string>

namespace weft::yaml {
namespace {

// Records where the last document started and ignores everything else.
class DocumentStarts final : public YAML::EventHandler {
 public:
  const YAML::Mark& last() const { return last_; }

  void OnDocumentStart(const YAML::Mark& mark) override { last_ = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

 private:
  YAML::Mark last_ = YAML::Mark::null_mark();
};

Error at(std::string_view source, const YAML::Mark& mark, std::string_view what) {
  return Error{ErrorCode::kInvalidArgument,
               fmt::format("{}:{}:{}: {}", source, mark.line + 1, mark.column + 1, what)};
}

// Parses the stream once without building nodes. A document that starts
// where the one before it started is the parser stuck on a token it never
// consumes; LoadAll would loop there.
Result<void> check_every_document_advances(const std::string& text, std::string_view source) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentStarts starts;
  int previous = -1;
  while (parser.HandleNextDocument(starts)) {
    const auto& start = starts.last();
    if (start.pos == previous) {
      const char token = static_cast<std::size_t>(start.pos) < text.size() ? text[start.pos] : ' ';
      return tl::unexpected(
          at(source, start, fmt::format("unexpected '{}' where a document should start", token)));
    }
    previous = start.pos;
  }
  return {};
}

}  // namespace

Result<std::vector<YAML::Node>> load_all(std::string_view text, std::string_view source) {
  const std::string owned(text);
  try {
    if (auto advances = check_every_document_advances(owned, source); !advances) {
      return tl::unexpected(advances.error());
    }
    return YAML::LoadAll(owned);
  } catch (const YAML::Exception& e) {
    return tl::unexpected(at(source, e.mark, e.msg));
  }
}

}  // namespace weft::yaml
