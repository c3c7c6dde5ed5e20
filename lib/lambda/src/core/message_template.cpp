#include "tap/core/message_template.hpp"

namespace tap {
namespace detail {

// One literal run (with "{{"/"}}" unescaped into `literal_buffer`) and the placeholder after it.
Piece next_piece(std::string_view text, std::size_t from, std::string& literal_buffer) {
  literal_buffer.clear();
  Piece p;
  std::size_t i = from;
  while (i < text.size()) {
    const char c = text[i];
    if (c != '{' && c != '}') {
      literal_buffer += c;
      ++i;
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == c) {  // "{{" or "}}"
      literal_buffer += c;
      i += 2;
      continue;
    }
    if (c == '}') {
      p.problem = "a lone '}' (write '}}' for a brace)";
      break;
    }
    const std::size_t close = text.find('}', i + 1);
    if (close == std::string_view::npos) {
      p.problem = "a '{' that is never closed (write '{{' for a brace)";
      break;
    }
    const std::string_view name = text.substr(i + 1, close - i - 1);
    for (std::size_t k = 0; k < kPlaceholderNames.size(); ++k) {
      if (kPlaceholderNames[k] == name) p.placeholder = static_cast<Placeholder>(k);
    }
    if (!p.placeholder) {
      p.problem = "unknown placeholder {" + std::string(name.substr(0, 40)) + "}";  // a hostile name: capped
      break;
    }
    p.next = close + 1;
    break;
  }
  p.literal = literal_buffer;
  return p;
}

}  // namespace detail

std::optional<std::string> template_problem(std::string_view text) {
  std::string buffer;
  for (std::size_t at = 0;;) {
    const detail::Piece p = detail::next_piece(text, at, buffer);
    if (p.problem) return p.problem;
    if (!p.placeholder) return std::nullopt;
    at = p.next;
  }
}

}  // namespace tap
