#include <cairn/status.h>

namespace cairn {

const char* errc_name(Errc code) {
  switch (code) {
    case Errc::ok:
      return "ok";
    case Errc::io_error:
      return "io_error";
    case Errc::no_space:
      return "no_space";
    case Errc::corruption:
      return "corruption";
    case Errc::not_found:
      return "not_found";
    case Errc::invalid_argument:
      return "invalid_argument";
    case Errc::wrong_expected_version:
      return "wrong_expected_version";
    case Errc::poisoned:
      return "poisoned";
    case Errc::closed:
      return "closed";
    case Errc::busy:
      return "busy";
  }
  return "unknown";
}

Status Status::error(Errc code, std::string message, int sys_errno) {
  return Status(std::make_shared<const Rep>(
      Rep{code, sys_errno, std::string(), std::nullopt, std::move(message)}));
}

Status Status::at(Errc code, std::string path, std::uint64_t position, std::string message) {
  return Status(
      std::make_shared<const Rep>(Rep{code, 0, std::move(path), position, std::move(message)}));
}

Status Status::in_file(Errc code, std::string path, std::string message, int sys_errno) {
  return Status(std::make_shared<const Rep>(
      Rep{code, sys_errno, std::move(path), std::nullopt, std::move(message)}));
}

const std::string& Status::message() const {
  static const std::string kEmpty;
  return rep_ ? rep_->message : kEmpty;
}

const std::string& Status::path() const {
  static const std::string kEmpty;
  return rep_ ? rep_->path : kEmpty;
}

std::string Status::to_string() const {
  if (!rep_) {
    return "ok";
  }
  std::string out = errc_name(rep_->code);
  out += ": ";
  if (!rep_->path.empty()) {
    out += rep_->path;
    if (rep_->position) {
      out += ":" + std::to_string(*rep_->position);
    }
    out += ": ";
  }
  out += rep_->message;
  return out;
}

Status Status::with_context(const std::string& context) const {
  if (!rep_) {
    return *this;
  }
  Rep copy = *rep_;
  copy.message = context + ": " + copy.message;
  return Status(std::make_shared<const Rep>(std::move(copy)));
}

}  // namespace cairn
