/*
 * vidu.hpp: thin C++17 RAII wrappers over the vidu C API (vidu.h). Handles are move-only and
 * freed by their destructors; failures throw vidu::error, carrying the code, the message, the
 * provider's code, the HTTP status and the task id. vidu::config and vidu::job build the C
 * option structs without designated initialisers (C++17 has none) and own their strings:
 *
 *   vidu::client client(vidu::config(VIDU_PROVIDER_VIDU).api_key(key).base_url(url));
 *   client.generate(vidu::job::from_path("cat.png").prompt("the cat turns").duration(5), "cat.mp4");
 *
 * Everything else (enums, thread safety) is as in vidu.h; the C structs work as well.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#ifndef VIDU_HPP
#define VIDU_HPP

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "vidu.h"

namespace vidu {

namespace detail {
struct deleter {
    void operator()(vidu_error *p) const noexcept { vidu_error_free(p); }
    void operator()(vidu_client *p) const noexcept { vidu_client_free(p); }
    void operator()(vidu_task_status *p) const noexcept { vidu_task_status_free(p); }
    void operator()(vidu_cancel_token *p) const noexcept { vidu_cancel_token_free(p); }
#ifdef VIDU_HAS_EMULATOR
    void operator()(vidu_emulator *p) const noexcept { vidu_emulator_free(p); }
#endif
    void operator()(char *p) const noexcept { vidu_string_free(p); }
};
template <class T> using handle = std::unique_ptr<T, deleter>;
inline std::string take(char *s) {
    handle<char> owned(s);
    return s ? std::string(s) : std::string();
}
inline std::string text(const char *s, const char *fallback = "") { return s ? s : fallback; }
}  // namespace detail

/* A failed call. task_id() is not empty whenever a task exists: wait for it again. */
class error : public std::runtime_error {
public:
    /* Takes ownership of `err` (which may be NULL) and frees it. Take the result of the call
     * into a variable first: in `error(f(&err), err)` C++ may read `err` before `f` runs. */
    error(vidu_result code, vidu_error *err) : error(code, detail::handle<vidu_error>(err)) {}
    /* A VIDU_ERROR_* code. */
    vidu_result code() const noexcept { return code_; }
    const std::string &task_id() const noexcept { return task_id_; }
    const std::string &provider_code() const noexcept { return provider_code_; }
    std::uint16_t http_status() const noexcept { return http_status_; }

private:
    error(vidu_result code, detail::handle<vidu_error> err)
        : std::runtime_error(detail::text(vidu_error_message(err.get()), "vidu error")),
          code_(code),
          task_id_(detail::text(vidu_error_task_id(err.get()))),
          provider_code_(detail::text(vidu_error_provider_code(err.get()))),
          http_status_(vidu_error_http_status(err.get())) {}
    vidu_result code_;
    std::string task_id_;
    std::string provider_code_;
    std::uint16_t http_status_;
};

namespace detail {
/* Runs `f(&err)` for a fallible C function, then throws if it failed. The call is sequenced
 * before `err` is read, which `check(f(&err), err)` would not guarantee. */
template <class F> void call(F &&f) {
    vidu_error *err = nullptr;
    vidu_result rc = f(&err);
    if (rc != VIDU_OK) throw error(rc, err);
}
}  // namespace detail

/* The library's version at run time; VIDU_VERSION is the header's. */
inline const std::string &version() {
    static const std::string v = detail::text(vidu_version());
    return v;
}

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

/* The status of a task (see vidu_task_status). Its strings are copied once, so references
 * and c_str() pointers taken from them stay valid as long as this object. */
class task_status {
public:
    explicit task_status(vidu_task_status *s)
        : h_(s),
          state_name_(detail::text(vidu_state_name(vidu_task_status_state(s)))),
          raw_state_(detail::text(vidu_task_status_raw_state(s))),
          task_id_(detail::text(vidu_task_status_task_id(s))),
          video_urls_(urls(s)),
          cover_url_(detail::text(vidu_task_status_cover_url(s))),
          error_code_(detail::text(vidu_task_status_error_code(s))),
          error_message_(detail::text(vidu_task_status_error_message(s))) {}
    vidu_state state() const noexcept { return vidu_task_status_state(h_.get()); }
    const std::string &state_name() const noexcept { return state_name_; }
    const std::string &raw_state() const noexcept { return raw_state_; }
    const std::string &task_id() const noexcept { return task_id_; }
    /* 0.0 to 1.0, or -1 when the provider does not say. */
    double progress() const noexcept { return vidu_task_status_progress(h_.get()); }
    const std::vector<std::string> &video_urls() const noexcept { return video_urls_; }
    const std::string &cover_url() const noexcept { return cover_url_; }
    const std::string &error_code() const noexcept { return error_code_; }
    const std::string &error_message() const noexcept { return error_message_; }
    /* -1 when not reported. */
    std::int64_t credits() const noexcept { return vidu_task_status_credits(h_.get()); }
    const vidu_task_status *get() const noexcept { return h_.get(); }

private:
    static std::vector<std::string> urls(const vidu_task_status *s) {
        std::vector<std::string> urls;
        for (std::size_t i = 0, n = vidu_task_status_video_url_count(s); i < n; i++)
            urls.push_back(detail::text(vidu_task_status_video_url(s, i)));
        return urls;
    }
    detail::handle<vidu_task_status> h_;
    std::string state_name_, raw_state_, task_id_;
    std::vector<std::string> video_urls_;
    std::string cover_url_, error_code_, error_message_;
};

/* Called on the waiting thread after each poll; return false to stop the wait. An exception
 * thrown here stops the wait and is rethrown by the waiting call. */
using progress_fn = std::function<bool(const vidu_progress &)>;

/* How to wait; default-constructed: 30 minutes, no cancel token, no callback. */
struct wait_options {
    double timeout_secs = 0; /* 0: the default, 30 minutes; INFINITY: none */
    const cancel_token *cancel = nullptr;
    progress_fn on_progress;
};

namespace detail {
inline const char *c_str(const std::optional<std::string> &s) {
    return s ? s->c_str() : nullptr;
}
inline vidu_tristate tristate(std::optional<bool> v) {
    return !v ? VIDU_TRISTATE_DEFAULT : *v ? VIDU_TRISTATE_TRUE : VIDU_TRISTATE_FALSE;
}
}  // namespace detail

/* A vidu_config built by chained setters, each named after its vidu_config field; what is not
 * set keeps its default. Owns its strings: temporaries may be passed. */
class config {
public:
    explicit config(vidu_provider provider) { c_.provider = provider; }
    config &api_key(std::string v) { return text(api_key_, std::move(v)); }
    config &base_url(std::string v) { return text(base_url_, std::move(v)); }
    config &user_agent(std::string v) { return text(user_agent_, std::move(v)); }
    config &auth_scheme(vidu_auth_scheme v) { return number(c_.auth_scheme, v); }
    config &connect_timeout_secs(double v) { return number(c_.connect_timeout_secs, v); }
    config &send_timeout_secs(double v) { return number(c_.send_timeout_secs, v); }
    config &receive_timeout_secs(double v) { return number(c_.receive_timeout_secs, v); }
    config &poll_first_secs(double v) { return number(c_.poll_first_secs, v); }
    config &poll_max_secs(double v) { return number(c_.poll_max_secs, v); }
    config &poll_growth(double v) { return number(c_.poll_growth, v); }
    config &poll_jitter(double v) { return number(c_.poll_jitter, v); }
    config &retry_max_attempts(std::uint32_t v) { return number(c_.retry_max_attempts, v); }
    config &retry_base_secs(double v) { return number(c_.retry_base_secs, v); }
    config &retry_max_delay_secs(double v) { return number(c_.retry_max_delay_secs, v); }
    config &retry_max_retry_after_secs(double v) {
        return number(c_.retry_max_retry_after_secs, v);
    }
    config &max_status_body(std::uint64_t v) { return number(c_.max_status_body, v); }
    config &proxy_from_env(bool v) { return number(c_.proxy_from_env, detail::tristate(v)); }
    /* The C struct; its strings point into this object. */
    vidu_config c() const {
        vidu_config c = c_;
        c.struct_size = sizeof c;
        c.api_key = detail::c_str(api_key_);
        c.base_url = detail::c_str(base_url_);
        c.user_agent = detail::c_str(user_agent_);
        return c;
    }

private:
    config &text(std::optional<std::string> &field, std::string v) {
        field = std::move(v);
        return *this;
    }
    template <class T, class V> config &number(T &field, V v) {
        field = v;
        return *this;
    }
    vidu_config c_{};
    std::optional<std::string> api_key_, base_url_, user_agent_;
};

/* A vidu_job built by chained setters, each named after its vidu_job field, from one image:
 *   vidu::job::from_path("cat.png").prompt("the cat turns its head").duration(5)
 * Owns its strings; image bytes given to from_bytes are borrowed and must outlive the calls
 * that use the job. */
class job {
public:
    static job from_path(std::string path) { return job(&job::path_, std::move(path)); }
    static job from_url(std::string url) { return job(&job::url_, std::move(url)); }
    static job from_bytes(const void *data, std::size_t len) {
        job j;
        j.c_.image_data = static_cast<const std::uint8_t *>(data);
        j.c_.image_len = len;
        return j;
    }
    job &model(std::string v) { return text(model_, std::move(v)); }
    job &prompt(std::string v) { return text(prompt_, std::move(v)); }
    job &resolution(std::string v) { return text(resolution_, std::move(v)); }
    job &callback_url(std::string v) { return text(callback_url_, std::move(v)); }
    job &payload(std::string v) { return text(payload_, std::move(v)); }
    job &voice_id(std::string v) { return text(voice_id_, std::move(v)); }
    job &wm_url(std::string v) { return text(wm_url_, std::move(v)); }
    job &meta_data(std::string v) { return text(meta_data_, std::move(v)); }
    job &extra_fields_unchecked(std::string v) { return text(extra_, std::move(v)); }
    job &duration(std::uint32_t v) { return number(c_.duration, v); }
    job &seed(std::uint64_t v) { return number(c_.seed, v); }
    job &movement_amplitude(vidu_movement_amplitude v) { return number(c_.movement_amplitude, v); }
    job &wm_position(std::uint32_t v) { return number(c_.wm_position, v); }
    job &allow_unknown_model(bool v) { return number(c_.allow_unknown_model, v ? 1u : 0u); }
    job &bgm(bool v) { return number(c_.bgm, detail::tristate(v)); }
    job &audio(bool v) { return number(c_.audio, detail::tristate(v)); }
    job &is_rec(bool v) { return number(c_.is_rec, detail::tristate(v)); }
    job &off_peak(bool v) { return number(c_.off_peak, detail::tristate(v)); }
    job &watermark(bool v) { return number(c_.watermark, detail::tristate(v)); }
    /* The C struct; its strings point into this object. */
    vidu_job c() const {
        vidu_job c = c_;
        c.struct_size = sizeof c;
        c.image_path = detail::c_str(path_);
        c.image_url = detail::c_str(url_);
        c.model = detail::c_str(model_);
        c.prompt = detail::c_str(prompt_);
        c.resolution = detail::c_str(resolution_);
        c.callback_url = detail::c_str(callback_url_);
        c.payload = detail::c_str(payload_);
        c.voice_id = detail::c_str(voice_id_);
        c.wm_url = detail::c_str(wm_url_);
        c.meta_data = detail::c_str(meta_data_);
        c.extra_fields_unchecked = detail::c_str(extra_);
        return c;
    }

private:
    using slot = std::optional<std::string> job::*;
    job() = default;
    job(slot image, std::string v) { this->*image = std::move(v); }
    job &text(std::optional<std::string> &field, std::string v) {
        field = std::move(v);
        return *this;
    }
    template <class T, class V> job &number(T &field, V v) {
        field = v;
        return *this;
    }
    vidu_job c_{};
    std::optional<std::string> path_, url_, model_, prompt_, resolution_, callback_url_,
        payload_, voice_id_, wm_url_, meta_data_, extra_;
};

namespace detail {
/* Carries a std::function through the C callback; exceptions never cross the C frames. */
struct waiter {
    explicit waiter(const wait_options &o) : fn(o.on_progress) {
        c.struct_size = sizeof c;
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
            return self->fn(*p) ? VIDU_PROGRESS_CONTINUE : VIDU_PROGRESS_STOP;
        } catch (...) {
            self->caught = std::current_exception();
            return VIDU_PROGRESS_STOP;
        }
    }
    /* detail::call, rethrowing what the callback threw in place of the C error. */
    template <class F> void run(F &&f) {
        detail::call([&](vidu_error **err) {
            vidu_result rc = f(err);
            if (caught) {
                vidu_error_free(*err);
                *err = nullptr;
                std::rethrow_exception(caught);
            }
            return rc;
        });
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

/* A client for one provider; may be used from many threads at once. Every call taking a
 * vidu_job also takes a vidu::job. */
class client {
public:
    explicit client(const config &cfg) : client(cfg.c()) {}
    explicit client(const vidu_config &config) {
        vidu_client *c = nullptr;
        detail::call([&](vidu_error **err) { return vidu_client_new(&config, &c, err); });
        h_.reset(c);
    }
    void check(const vidu::job &j) const { check(j.c()); }
    std::string submit(const vidu::job &j) const { return submit(j.c()); }
    generated generate(const vidu::job &j, const std::string &path,
                       const wait_options &options = {}) const {
        return generate(j.c(), path, options);
    }
    void check(const vidu_job &job) const {
        detail::call([&](vidu_error **err) { return vidu_client_check(h_.get(), &job, err); });
    }
    std::string submit(const vidu_job &job) const {
        char *id = nullptr;
        detail::call([&](vidu_error **err) { return vidu_client_submit(h_.get(), &job, &id, err); });
        return detail::take(id);
    }
    task_status status(const std::string &task_id) const {
        vidu_task_status *s = nullptr;
        detail::call(
            [&](vidu_error **err) { return vidu_client_status(h_.get(), task_id.c_str(), &s, err); });
        return task_status(s);
    }
    task_status wait(const std::string &task_id, const wait_options &options = {}) const {
        detail::waiter w(options);
        vidu_task_status *s = nullptr;
        w.run([&](vidu_error **err) {
            return vidu_client_wait(h_.get(), task_id.c_str(), &w.c, &s, err);
        });
        return task_status(s);
    }
    /* Asks the provider to cancel the task (official API only); a cancel_token stops a wait. */
    void cancel(const std::string &task_id) const {
        detail::call(
            [&](vidu_error **err) { return vidu_client_cancel(h_.get(), task_id.c_str(), err); });
    }
    std::uint64_t download(const task_status &status, const std::string &path,
                           const cancel_token *cancel = nullptr) const {
        std::uint64_t bytes = 0;
        detail::call([&](vidu_error **err) {
            return vidu_client_download(h_.get(), status.get(), path.c_str(),
                                 cancel ? cancel->get() : nullptr, &bytes, err);
        });
        return bytes;
    }
    generated generate(const vidu_job &job, const std::string &path,
                       const wait_options &options = {}) const {
        detail::waiter w(options);
        char *id = nullptr;
        std::uint64_t bytes = 0;
        w.run([&](vidu_error **err) {
            return vidu_client_generate(h_.get(), &job, path.c_str(), &w.c, &id, &bytes, err);
        });
        return generated{detail::take(id), bytes};
    }
    /* Waits for a task submitted earlier and downloads its video. */
    generated resume(const std::string &task_id, const std::string &path,
                     const wait_options &options = {}) const {
        detail::waiter w(options);
        std::uint64_t bytes = 0;
        w.run([&](vidu_error **err) {
            return vidu_client_resume(h_.get(), task_id.c_str(), path.c_str(), &w.c, &bytes, err);
        });
        return generated{task_id, bytes};
    }
    /* The account's credits and concurrency (official API only); -1: not reported. */
    vidu_credits credits() const {
        vidu_credits out{};
        out.struct_size = sizeof out;
        detail::call([&](vidu_error **err) { return vidu_client_credits(h_.get(), &out, err); });
        return out;
    }
    const vidu_client *get() const noexcept { return h_.get(); }

private:
    detail::handle<vidu_client> h_;
};

#ifdef VIDU_HAS_EMULATOR
/* The built-in emulator, stopped by the destructor. */
class emulator {
public:
    explicit emulator(const char *scenario = nullptr, const char *api_key = nullptr) {
        vidu_emulator *e = nullptr;
        detail::call(
            [&](vidu_error **err) { return vidu_emulator_start(scenario, api_key, &e, err); });
        h_.reset(e);
        base_url_ = detail::text(vidu_emulator_base_url(e));
    }
    /* Valid as long as the emulator, so `config.base_url = emu.base_url().c_str();` is safe. */
    const std::string &base_url() const noexcept { return base_url_; }

private:
    detail::handle<vidu_emulator> h_;
    std::string base_url_;
};
#endif /* VIDU_HAS_EMULATOR */

}  // namespace vidu

#endif /* VIDU_HPP */
