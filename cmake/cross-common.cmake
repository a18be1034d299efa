# Shared part of the cross toolchain files (cmake/<triplet>.cmake set DS_CROSS_TRIPLET and
# CMAKE_SYSTEM_PROCESSOR, then include this). Debian's cross g++ (g++-<triplet>) with its own
# sysroot /usr/<triplet>, and Debian multiarch libseccomp-dev:<arch> for the static libseccomp.
#
# The two host headers the runtime needs from /usr/include (seccomp.h, which multiarch
# libseccomp-dev installs there for every architecture, and the header-only nlohmann json) are
# exposed through a private directory of symlinks: putting /usr/include itself on a cross
# compiler's path would mix the host's glibc headers into the foreign build.
set(CMAKE_SYSTEM_NAME Linux)
# Debian's multiarch directory, where libseccomp-dev:<arch> installs: the triplet, except for
# i386 (i686-linux-gnu compiler, /usr/lib/i386-linux-gnu).
if(NOT DEFINED DS_CROSS_MULTIARCH)
    set(DS_CROSS_MULTIARCH ${DS_CROSS_TRIPLET})
endif()
set(CMAKE_CXX_COMPILER ${DS_CROSS_TRIPLET}-g++)
set(CMAKE_CXX_COMPILER_AR ${DS_CROSS_TRIPLET}-gcc-ar)
set(CMAKE_CXX_COMPILER_RANLIB ${DS_CROSS_TRIPLET}-gcc-ranlib)

set(CMAKE_FIND_ROOT_PATH /usr/${DS_CROSS_TRIPLET} /usr/lib/${DS_CROSS_MULTIARCH})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Read by runtime/CMakeLists.txt instead of find_library/find_package when cross compiling.
set(DS_CROSS_SECCOMP_STATIC /usr/lib/${DS_CROSS_MULTIARCH}/libseccomp.a)
set(DS_CROSS_HOST_HEADERS seccomp.h seccomp-syscalls.h nlohmann)
