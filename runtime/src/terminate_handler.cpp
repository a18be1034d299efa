// Replaces libstdc++'s verbose terminate handler, the default std::terminate calls for an
// uncaught exception. Its demangler (__cxa_demangle) is about 47 KB of a static binary that
// must stay small (issue 11); the mangled type name says the same to whoever reads the bug
// report. Linked into the executables themselves (not the library archive), so the linker
// resolves the symbol here before it scans libstdc++.a and never pulls vterminate.o in.
#include <cxxabi.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <typeinfo>

namespace {

void write_stderr(const char* text) {
    size_t length = std::strlen(text);
    while (length > 0) {
        ssize_t written = ::write(STDERR_FILENO, text, length);
        if (written <= 0) return;
        text += written;
        length -= static_cast<size_t>(written);
    }
}

}  // namespace

namespace __gnu_cxx {

void __verbose_terminate_handler() {
    static bool terminating = false;
    if (terminating) std::abort();  // the handler itself threw
    terminating = true;
    const std::type_info* type = abi::__cxa_current_exception_type();
    if (!type) {
        write_stderr("droidspaces: terminate called without an active exception\n");
        std::abort();
    }
    write_stderr("droidspaces: terminate called after throwing an instance of '");
    write_stderr(type->name());
    write_stderr("'\n");
    try {
        throw;
    } catch (const std::exception& e) {
        write_stderr("  what():  ");
        write_stderr(e.what());
        write_stderr("\n");
    } catch (...) {
    }
    std::abort();
}

}  // namespace __gnu_cxx
