/*
 * vidu.hpp: thin C++17 RAII wrappers over the vidu C API (vidu.h). Handles are move-only and
 * freed by their destructors; failures throw vidu::error, carrying the code, the message, the
 * provider's code, the HTTP status and the task id. Everything else (option structs, enums,
 * thread safety) is as in vidu.h: vidu_config and vidu_job are used as they are.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#ifndef VIDU_HPP
#define VIDU_HPP

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "vidu.h"

namespace vidu {

/* A failed call. task_id() is not empty whenever a task exists: wait for it again. */
class error : public std::runtime_error {
public:
    /* Takes ownership of `err` (which may be NULL) and frees it. */
    error(vidu_result code, vidu_error *err)
        : std::runtime_error(text(vidu_error_message(err), "vidu error")),
          code_(code),
          task_id_(text(vidu_error_task_id(err))),
          provider_code_(text(vidu_error_provider_code(err))),
          http_status_(vidu_error_http_status(err)) {
        vidu_error_free(err);
    }
    /* A VIDU_ERROR_* code. */
    vidu_result code() const noexcept { return code_; }
    const std::string &task_id() const noexcept { return task_id_; }
    const std::string &provider_code() const noexcept { return provider_code_; }
    std::uint16_t http_status() const noexcept { return http_status_; }

private:
    static std::string text(const char *s, const char *fallback = "") {
        return s ? s : fallback;
    }
    vidu_result code_;
    std::string task_id_;
    std::string provider_code_;
    std::uint16_t http_status_;
};

namespace detail {
inline void check(vidu_result rc, vidu_error *err) {
    if (rc != VIDU_OK) throw error(rc, err);
}
struct deleter {
    void operator()(vidu_client *p) const noexcept { vidu_client_free(p); }
    void operator()(vidu_task_status *p) const noexcept { vidu_status_free(p); }
    void operator()(vidu_cancel_token *p) const noexcept { vidu_cancel_token_free(p); }
    void operator()(vidu_emulator *p) const noexcept { vidu_emulator_free(p); }
    void operator()(char *p) const noexcept { vidu_string_free(p); }
};
template <class T> using handle = std::unique_ptr<T, deleter>;
inline std::string take(char *s) {
    handle<char> owned(s);
    return s ? std::string(s) : std::string();
}
inline std::string text(const char *s) { return s ? s : ""; }
}  // namespace detail

/* The library's version at run time; VIDU_VERSION is the header's. */
inline std::string version() { return vidu_version(); }

/* Stops a wait or a download from any thread (see vidu_cancel_token). */
class cancel_token {
public:
    cancel_token() : h_(vidu_cancel_token_new()) {
        if (!h_) throw std::bad_alloc();
    }
    void cancel() const noexcept { vidu_cancel_token_cancel(h_.get()); }
    bool cancelled() const noexcept { return vidu_cancel_token_is_cancelled(h_.get()) != 0; }
    const vidu_cancel_token *get() const noexcept { return h_.get(); }

private:
    detail::handle<vidu_cancel_token> h_;
};

/* The status of a task (see vidu_task_status). */
class task_status {
public:
    explicit task_status(vidu_task_status *s) : h_(s) {}
    vidu_state state() const noexcept { return vidu_status_state(h_.get()); }
    std::string state_name() const { return detail::text(vidu_state_name(state())); }
    std::string raw_state() const { return detail::text(vidu_status_raw_state(h_.get())); }
    std::string task_id() const { return detail::text(vidu_status_task_id(h_.get())); }
    /* 0.0 to 1.0, or -1 when the provider does not say. */
    double progress() const noexcept { return vidu_status_progress(h_.get()); }
    std::vector<std::string> video_urls() const {
        std::vector<std::string> urls;
        for (std::size_t i = 0, n = vidu_status_video_url_count(h_.get()); i < n; i++)
            urls.push_back(vidu_status_video_url(h_.get(), i));
        return urls;
    }
    std::string cover_url() const { return detail::text(vidu_status_cover_url(h_.get())); }
    std::string error_code() const { return detail::text(vidu_status_error_code(h_.get())); }
    std::string error_message() const {
        return detail::text(vidu_status_error_message(h_.get()));
    }
    /* -1 when not reported. */
    std::int64_t credits() const noexcept { return vidu_status_credits(h_.get()); }
    const vidu_task_status *get() const noexcept { return h_.get(); }

private:
    detail::handle<vidu_task_status> h_;
};

/* Called on the waiting thread after each poll; return false to stop the wait. An exception
 * thrown here stops the wait and is rethrown by the waiting call. */
using progress_fn = std::function<bool(const vidu_progress &)>;

struct wait_options {
    double timeout_secs = 0; /* 0: the default, 30 minutes; INFINITY: none */
    const cancel_token *cancel = nullptr;
    progress_fn on_progress;
};

namespace detail {
/* Carries a std::function through the C callback; exceptions never cross the C frames. */
struct waiter {
    explicit waiter(const wait_options &o) : fn(o.on_progress) {
        c.timeout_secs = o.timeout_secs;
        c.cancel = o.cancel ? o.cancel->get() : nullptr;
        if (fn) {
            c.on_progress = &waiter::call;
            c.userdata = this;
        }
    }
    static int call(void *userdata, const vidu_progress *p) {
        auto *self = static_cast<waiter *>(userdata);
        try {
            return self->fn(*p) ? 0 : 1;
        } catch (...) {
            self->caught = std::current_exception();
            return 1;
        }
    }
    void check(vidu_result rc, vidu_error *err) {
        if (caught) {
            vidu_error_free(err);
            std::rethrow_exception(caught);
        }
        detail::check(rc, err);
    }
    vidu_wait_options c{};
    progress_fn fn;
    std::exception_ptr caught;
};
}  // namespace detail

/* What generate() or resume() made. */
struct generated {
    std::string task_id;
    std::uint64_t bytes;
};

/* A client for one provider; may be used from many threads at once. */
class client {
public:
    explicit client(const vidu_config &config) {
        vidu_client *c = nullptr;
        vidu_error *err = nullptr;
        detail::check(vidu_client_new(&config, &c, &err), err);
        h_.reset(c);
    }
    void check(const vidu_job &job) const {
        vidu_error *err = nullptr;
        detail::check(vidu_check(h_.get(), &job, &err), err);
    }
    std::string submit(const vidu_job &job) const {
        char *id = nullptr;
        vidu_error *err = nullptr;
        detail::check(vidu_submit(h_.get(), &job, &id, &err), err);
        return detail::take(id);
    }
    task_status status(const std::string &task_id) const {
        vidu_task_status *s = nullptr;
        vidu_error *err = nullptr;
        detail::check(vidu_status(h_.get(), task_id.c_str(), &s, &err), err);
        return task_status(s);
    }
    task_status wait(const std::string &task_id, const wait_options &options = {}) const {
        detail::waiter w(options);
        vidu_task_status *s = nullptr;
        vidu_error *err = nullptr;
        w.check(vidu_wait(h_.get(), task_id.c_str(), &w.c, &s, &err), err);
        return task_status(s);
    }
    void cancel(const std::string &task_id) const {
        vidu_error *err = nullptr;
        detail::check(vidu_cancel(h_.get(), task_id.c_str(), &err), err);
    }
    std::uint64_t download(const task_status &status, const std::string &path,
                           const cancel_token *cancel = nullptr) const {
        std::uint64_t bytes = 0;
        vidu_error *err = nullptr;
        detail::check(vidu_download(h_.get(), status.get(), path.c_str(),
                                    cancel ? cancel->get() : nullptr, &bytes, &err),
                      err);
        return bytes;
    }
    generated generate(const vidu_job &job, const std::string &path,
                       const wait_options &options = {}) const {
        detail::waiter w(options);
        char *id = nullptr;
        std::uint64_t bytes = 0;
        vidu_error *err = nullptr;
        w.check(vidu_generate(h_.get(), &job, path.c_str(), &w.c, &id, &bytes, &err), err);
        return generated{detail::take(id), bytes};
    }
    /* Waits for a task submitted earlier and downloads its video. */
    generated resume(const std::string &task_id, const std::string &path,
                     const wait_options &options = {}) const {
        detail::waiter w(options);
        std::uint64_t bytes = 0;
        vidu_error *err = nullptr;
        w.check(vidu_resume(h_.get(), task_id.c_str(), path.c_str(), &w.c, &bytes, &err), err);
        return generated{task_id, bytes};
    }
    const vidu_client *get() const noexcept { return h_.get(); }

private:
    detail::handle<vidu_client> h_;
};

/* The built-in emulator, stopped by the destructor. */
class emulator {
public:
    explicit emulator(const char *scenario = nullptr, const char *api_key = nullptr) {
        vidu_emulator *e = nullptr;
        vidu_error *err = nullptr;
        detail::check(vidu_emulator_start(scenario, api_key, &e, &err), err);
        h_.reset(e);
    }
    std::string base_url() const { return vidu_emulator_base_url(h_.get()); }

private:
    detail::handle<vidu_emulator> h_;
};

}  // namespace vidu

#endif /* VIDU_HPP */
