#pragma once
// The VM image cache (behavior-ops.md §9, issue 16): raw disk images in the `vm-images` root
// subvolume, listed, downloaded (adapters/http_client, through the SSRF guard), converted with
// `qemu-img convert -O raw` and deleted. Every file is reached from the subvolume's directory fd
// (adapters/file_io/beneath.hpp); qemu-img runs in that directory on names core validated.
//
// An upload writes `<name>.download`, converts it to `<name>.converting`, renames that to
// `<name>` (RENAME_NOREPLACE) and removes the download. Whatever ends it early (a refused address,
// a truncated or oversized body, a bad image, the deadline, a cancellation at shutdown) removes
// both temporary files before the coroutine completes, so no partial file is ever left. One upload
// per name at a time (409).
//
// Lives on the loop thread, owned by the app; every coroutine runs and completes on the loop.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/problem.hpp"
#include "core/vm_images.hpp"

namespace sc::file_io {
class file_ring;
}

namespace sc::server {

class storage_service;
class operation_progress;

class vm_image_store {
 public:
  struct options {
    std::chrono::milliseconds download_timeout{30 * 60 * 1000};
    std::chrono::milliseconds convert_timeout{30 * 60 * 1000};
    std::vector<vm_images::allowed_endpoint> allowed;  // test-only exceptions to the guard
  };
  vm_image_store(storage_service& storage, file_io::file_ring& files, const std::filesystem::path& btrfs_root,
                 options opts);

  struct image {
    std::string name;
    std::uint64_t size = 0;
  };
  // Finished images (core is_listed_image), by name.
  boost::asio::awaitable<result<std::vector<image>>> list();
  // `name` as core existing_image_name returned it. 404 missing, 409 while it is being uploaded.
  boost::asio::awaitable<result<void>> remove(std::string name);

  struct upload_request {
    vm_images::fetch_target url;
    std::string name;            // core image_name
    std::uint64_t max_size = 0;  // vm_image_max_size: body bytes and the disk's virtual size
  };
  // Downloads, checks, converts and stores the image; `progress` gets the steps ("downloading"
  // with byte counts, "inspecting", "converting") but not the end, which the caller reports.
  // Returns the stored name. 409 when the name exists or is being uploaded.
  boost::asio::awaitable<result<std::string>> upload(upload_request request,
                                                     std::shared_ptr<operation_progress> progress);

 private:
  storage_service& storage_;
  file_io::file_ring& files_;
  std::filesystem::path directory_;  // <btrfs root>/vm-images: qemu-img's working directory
  options options_;
  std::set<std::string> uploading_;
};

}  // namespace sc::server
