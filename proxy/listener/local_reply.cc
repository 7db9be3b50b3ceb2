#include "proxy/listener/local_reply.h"

namespace weft::proxy::listener {

LocalReply local_reply(http::Failure failure) {
  const auto& text = http::describe(failure);
  return {text.status, text.reason, std::string(text.body), ""};
}

}  // namespace weft::proxy::listener
