// `install --name=N --from=TARBALL|DIR [--img=SIZE] [--fs=ext4] [--json]`: the CLI face of
// container::install_container. On a terminal a progress bar redrawn in place, otherwise a plain
// line every 10%; with --json one event object per line on stdout.
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <string>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "container/install.hpp"
#include "core/archive.hpp"
#include "core/error.hpp"
#include "core/format.hpp"

namespace ds::cli {
namespace {

// SIGINT, SIGTERM, SIGHUP and SIGQUIT are blocked while installing and become readable on a
// signalfd that the install polls: Ctrl-C or a kill stops it cleanly (unmounted, removed)
// instead of leaving half a container behind. SIGPIPE is ignored meanwhile.
class SignalCancel {
  public:
    SignalCancel() {
        sigemptyset(&set_);
        for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT})
            sigaddset(&set_, sig);
        ::sigprocmask(SIG_BLOCK, &set_, &old_);
        fd_ = ::signalfd(-1, &set_, SFD_CLOEXEC | SFD_NONBLOCK);
        // A reader that goes away (`install --json | head -1`) must not kill us halfway.
        struct sigaction ignore {};
        ignore.sa_handler = SIG_IGN;
        ::sigaction(SIGPIPE, &ignore, &old_pipe_);
    }
    ~SignalCancel() {
        // What arrived has been acted on (the install stopped): consume it, then unblock.
        if (fd_ >= 0) {
            signalfd_siginfo info;
            while (::read(fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
            }
            ::close(fd_);
        }
        ::sigaction(SIGPIPE, &old_pipe_, nullptr);
        ::sigprocmask(SIG_SETMASK, &old_, nullptr);
    }
    SignalCancel(const SignalCancel&) = delete;
    SignalCancel& operator=(const SignalCancel&) = delete;

    int fd() const { return fd_; }

  private:
    sigset_t set_;
    sigset_t old_;
    struct sigaction old_pipe_ {};
    int fd_ = -1;
};

void put_text(const std::string& text) {
    std::fputs(text.c_str(), stdout);
    std::fflush(stdout);
}

void put_json_line(const nlohmann::ordered_json& value) {
    put_text(value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n");
}

class Reporter {
  public:
    Reporter(bool json, bool tty) : json_(json), tty_(tty) {}

    void event(const container::InstallEvent& e) {
        using Type = container::InstallEvent::Type;
        if (json_) {
            put_json_line(container::event_json(e));
            return;
        }
        if (e.type == Type::progress) {
            progress(e);
            return;
        }
        end_bar();
        switch (e.type) {
            case Type::step:
                print_info(e.message + "...");
                break;
            case Type::warning:
                print_warning(e.message);
                break;
            case Type::done:
                break;  // the caller prints the summary
            case Type::progress:
                break;
        }
    }

    // The failure as the stream's last line: {"event":"error","message":...} plus the error
    // object every --json failure carries (docs/json.md).
    void error(ErrorKind kind, const std::string& message) {
        if (json_) {
            auto line = container::error_event_json(message);
            line["error"] = {{"kind", std::string(to_string(kind))}, {"message", message}};
            put_json_line(line);
        } else {
            end_bar();
        }
    }

  private:
    void progress(const container::InstallEvent& e) {
        if (tty_) {
            put_text("\r" + archive::progress_bar(e.bytes, e.total) + "\033[K");
            bar_ = true;
            if (e.total > 0 && e.bytes >= e.total) end_bar();
        } else if (deciles_.due(e.percent)) {
            print_info("Extracting: " + archive::progress_text(e.bytes, e.total));
        }
    }

    void end_bar() {
        if (!bar_) return;
        put_text("\n");
        bar_ = false;
    }

    bool json_;
    bool tty_;
    bool bar_ = false;
    archive::DecileLines deciles_;
};

}  // namespace

int cmd_install(Context& ctx) {
    const auto& inv = ctx.inv;
    Reporter reporter(inv.json, ::isatty(STDOUT_FILENO) == 1);
    SignalCancel cancel;
    try {
        if (inv.names.size() != 1)
            fail_usage("'install' needs one container name: " + ctx.argv0 +
                       " install --name=NAME --from=TARBALL|DIR [--img=SIZE]");
        if (!inv.args.empty())
            fail_usage("'install' takes no arguments, got '" + inv.args.front() + "'");
        if (inv.install_from.empty())
            fail_usage("'install' needs --from=TARBALL or --from=DIR (the rootfs to install)");
        container::InstallRequest request;
        request.name = inv.names.front();
        request.source = inv.install_from;
        request.image_fs = inv.install_fs;
        if (!inv.install_image_size.empty())
            request.image_size = archive::parse_image_size(inv.install_image_size);
        ctx.output.on_install_event = [&](const container::InstallEvent& e) { reporter.event(e); };
        auto result = ctx.rt().install(request, cancel.fd());
        if (!result.fixes.empty())
            print_info("Post-install fixes: " + format::join(result.fixes, ", "));
        print_info("Installed '" + result.name + "'" +
                   (result.os.empty() ? "" : " (" + result.os + ")") + ": rootfs " + result.rootfs);
        print_info("Start it with: " + ctx.argv0 + " --name='" + result.name + "' start");
        return kExitOk;
    } catch (const Error& e) {
        reporter.error(e.kind(), e.what());
        ctx.error_reported = inv.json;
        throw;
    } catch (const std::exception& e) {
        reporter.error(ErrorKind::system, e.what());
        ctx.error_reported = inv.json;
        throw;
    }
}

}  // namespace ds::cli
