#include "common/base64.h"

#include <boost/beast/core/detail/base64.hpp>

namespace weft::base64 {

namespace b64 = boost::beast::detail::base64;

std::string encode(std::string_view data) {
  std::string out(b64::encoded_size(data.size()), '\0');
  out.resize(b64::encode(out.data(), data.data(), data.size()));
  return out;
}

std::string decode(std::string_view text) {
  std::string out(b64::decoded_size(text.size()), '\0');
  out.resize(b64::decode(out.data(), text.data(), text.size()).first);
  return out;
}

}  // namespace weft::base64
