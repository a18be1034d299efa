// What several unit test files share: a temporary directory that removes itself, and the check
// that a statement throws one ds::Error line of the expected kind.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <utility>

#include "core/error.hpp"

namespace ds::test {

class TempDir {
  public:
    TempDir() {
        char tmpl[] = "/tmp/ds-test.XXXXXX";
        if (::mkdtemp(tmpl)) path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        if (!path_.empty()) std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }
    // Leaves the directory for the caller to remove (after unmounting what is inside).
    std::string release() { return std::exchange(path_, ""); }

  private:
    std::string path_;
};

}  // namespace ds::test

// `stmt` throws a ds::Error of `expected_kind` whose message is one line containing every needle.
#define EXPECT_ERROR(stmt, expected_kind, ...)                                                \
    do {                                                                                      \
        bool thrown_ = false;                                                                 \
        try {                                                                                 \
            stmt;                                                                             \
        } catch (const ds::Error& e_) {                                                       \
            thrown_ = true;                                                                   \
            std::string m_ = e_.what();                                                       \
            EXPECT_EQ(e_.kind(), expected_kind) << m_;                                        \
            EXPECT_EQ(m_.find('\n'), std::string::npos) << m_;                                \
            for (std::string needle_ : {__VA_ARGS__})                                         \
                EXPECT_NE(m_.find(needle_), std::string::npos) << m_ << " lacks " << needle_; \
        }                                                                                     \
        EXPECT_TRUE(thrown_) << #stmt " did not throw";                                       \
    } while (0)
