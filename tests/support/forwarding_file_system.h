// A file system that forwards every call to another, for tests that watch
// or hold back some calls: derive from ForwardingFile and override the calls
// to watch, and from ForwardingFileSystem overriding wrap() to hand out such
// files. Everything not overridden behaves exactly as the base.
#pragma once

#include <cairn/file_system.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace cairn::test {

class ForwardingFile : public io::File {
 public:
  explicit ForwardingFile(std::unique_ptr<io::File> base) : base_(std::move(base)) {}
  Status write_at(std::uint64_t p, std::span<const std::byte> b) override {
    return base_->write_at(p, b);
  }
  Result<std::size_t> read_at(std::uint64_t p, std::span<std::byte> out) const override {
    return base_->read_at(p, out);
  }
  Status sync_data() override { return base_->sync_data(); }
  Status write_and_sync(std::span<const io::WriteOp> ops) override {
    return base_->write_and_sync(ops);
  }
  Status allocate(std::uint64_t p, std::uint64_t n) override { return base_->allocate(p, n); }
  Result<std::uint64_t> size() const override { return base_->size(); }
  Status truncate(std::uint64_t n) override { return base_->truncate(n); }
  const std::string& path() const override { return base_->path(); }
  Result<std::shared_ptr<const io::MappedBytes>> map(std::uint64_t bytes) const override {
    return base_->map(bytes);
  }

 private:
  std::unique_ptr<io::File> base_;
};

class ForwardingFileSystem : public io::FileSystem {
 public:
  ForwardingFileSystem(std::shared_ptr<io::FileSystem> base, std::string label)
      : base_(std::move(base)), label_(std::move(label)) {}
  Result<std::unique_ptr<io::File>> open(const std::string& path, io::OpenMode mode) override {
    CAIRN_ASSIGN_OR_RETURN(auto file, base_->open(path, mode));
    return wrap(std::move(file));
  }
  Status rename(const std::string& a, const std::string& b) override { return base_->rename(a, b); }
  Status remove(const std::string& p) override { return base_->remove(p); }
  Status sync_dir(const std::string& d) override { return base_->sync_dir(d); }
  Result<std::vector<std::string>> list(const std::string& d) override { return base_->list(d); }
  Status create_dir(const std::string& d) override { return base_->create_dir(d); }
  Result<bool> exists(const std::string& p) override { return base_->exists(p); }
  Result<std::unique_ptr<io::FileLock>> lock(const std::string& p) override {
    return base_->lock(p);
  }
  std::string name() const override { return label_ + "(" + base_->name() + ")"; }

 protected:
  // The file handed out for each open(); the base file itself by default.
  virtual std::unique_ptr<io::File> wrap(std::unique_ptr<io::File> file) { return file; }

 private:
  std::shared_ptr<io::FileSystem> base_;
  std::string label_;
};

}  // namespace cairn::test
