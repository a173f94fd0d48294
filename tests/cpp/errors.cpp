// errors.cpp: what a C++ user sees when a call through vidu.hpp fails, against the built-in
// emulator. Run by tests/cpp.rs, also under valgrind.
//
//   errors IMAGE WORKDIR VIDU_URL   prints "ok <case>" per passing case; exits 1 if any fails
//
// VIDU_URL is an official-API emulator run by the test, which counts the requests it gets.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <iterator>
#include <stdexcept>
#include <string>
#include <thread>

#include "vidu.hpp"

namespace {

int failures = 0;
std::string image, workdir;

void expect(bool ok, const std::string &name, const std::string &what) {
    if (!ok) {
        failures++;
        std::fprintf(stderr, "FAIL %s: %s\n", name.c_str(), what.c_str());
    }
}

bool contains(const std::string &s, const std::string &part) {
    return !part.empty() && s.find(part) != std::string::npos;
}

bool exists(const std::string &path) { return std::ifstream(path).good(); }

/* Runs `f`, which must throw a vidu::error with `code` and a real message; returns it for
 * the case's own checks. */
template <class F> vidu::error expect_error(const std::string &name, vidu_result code, F f) {
    int before = failures;
    try {
        f();
        expect(false, name, "nothing was thrown");
    } catch (const vidu::error &e) {
        std::string what = e.what();
        expect(e.code() == code, name,
               "code " + std::to_string(e.code()) + ", expected " + std::to_string(code) +
                   ": " + what);
        expect(!what.empty() && what != "vidu error", name, "no message: \"" + what + "\"");
        std::printf("%s %s: %s\n", failures == before ? "ok" : "...", name.c_str(), what.c_str());
        return e;
    } catch (const std::exception &e) {
        expect(false, name, std::string("not a vidu::error: ") + e.what());
    }
    return vidu::error(VIDU_OK, nullptr);
}

/* A config for `emu`, as the C struct; base_url is taken the way the user wrote it. */
vidu_config config_for(const vidu::emulator &emu, vidu_provider provider) {
    vidu_config config{};
    config.struct_size = sizeof config;
    config.provider = provider;
    config.api_key = "key";
    config.base_url = emu.base_url().c_str();
    config.poll_first_secs = 0.02;
    config.poll_max_secs = 0.05;
    return config;
}

vidu_job job_for_image() {
    vidu_job job{};
    job.struct_size = sizeof job;
    job.image_path = image.c_str();
    job.prompt = "the cat turns its head";
    return job;
}

void invalid_input(const vidu::emulator &emu) {
    auto e = expect_error("unknown scenario", VIDU_ERROR_INVALID_INPUT,
                          [] { vidu::emulator bad("no-such-scenario"); });
    expect(contains(e.what(), "scenario") && contains(e.what(), "no-such-scenario"),
           "unknown scenario", "names the field and the value");

    vidu_config no_key = config_for(emu, VIDU_PROVIDER_VIDU);
    no_key.api_key = nullptr;
    e = expect_error("client without api_key", VIDU_ERROR_INVALID_INPUT,
                     [&] { vidu::client c(no_key); });
    expect(contains(e.what(), "api_key"), "client without api_key", "names the field");

    vidu::client client(config_for(emu, VIDU_PROVIDER_VIDU));
    vidu_job job = job_for_image();
    job.duration = 99;
    e = expect_error("bad duration", VIDU_ERROR_INVALID_INPUT, [&] { client.check(job); });
    expect(contains(e.what(), "duration") && contains(e.what(), "99"), "bad duration",
           "names the field and the value");
    expect(e.task_id().empty(), "bad duration", "no task id: " + e.task_id());

    vidu_job no_image{};
    no_image.struct_size = sizeof no_image;
    std::string out = workdir + "/no-image.mp4";
    e = expect_error("missing image", VIDU_ERROR_INVALID_INPUT,
                     [&] { client.generate(no_image, out); });
    expect(contains(e.what(), "image"), "missing image", "names the field");
    expect(e.task_id().empty(), "missing image", "no task id: " + e.task_id());
    expect(!exists(out), "missing image", "no file at the output path");

    vidu_job unsized = job_for_image();
    unsized.struct_size = 0;
    e = expect_error("job without struct_size", VIDU_ERROR_INVALID_INPUT,
                     [&] { client.check(unsized); });
    expect(contains(e.what(), "job->struct_size"), "job without struct_size", "names the field");
}

/* vidu::config and vidu::job: no designated initialisers, strings owned by the builders. */
void builders(const vidu::emulator &emu) {
    // Every string a temporary: the builders keep copies.
    vidu::client client(vidu::config(VIDU_PROVIDER_VIDU)
                            .api_key(std::string("key"))
                            .base_url(std::string(emu.base_url()))
                            .poll_first_secs(0.02)
                            .poll_max_secs(0.05)
                            .user_agent("builders-test"));
    std::string out = workdir + "/built.mp4";
    auto job = vidu::job::from_path(image).prompt(std::string("the cat turns its head"));
    job.duration(4).movement_amplitude(VIDU_MOVEMENT_SMALL).bgm(true).payload("p");
    vidu::generated done = client.generate(job, out);
    bool ok = !done.task_id.empty() && done.bytes > 0 && exists(out);
    expect(ok, "builders generate", "task " + done.task_id + ", " + std::to_string(done.bytes));
    if (ok) std::printf("ok builders generate: task %s\n", done.task_id.c_str());

    std::ifstream file(image, std::ios::binary);
    std::string png((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    std::string task = client.submit(vidu::job::from_bytes(png.data(), png.size()));
    expect(!task.empty(), "builders from_bytes", "a task id");
    if (!task.empty()) std::printf("ok builders from_bytes: task %s\n", task.c_str());

    auto e = expect_error("builders bad duration", VIDU_ERROR_INVALID_INPUT, [&] {
        client.check(vidu::job::from_url("https://example.com/cat.png").duration(99));
    });
    expect(contains(e.what(), "duration") && contains(e.what(), "99"), "builders bad duration",
           "names the field and the value");
    e = expect_error("builders no image", VIDU_ERROR_INVALID_INPUT,
                     [&] { client.check(vidu::job::from_bytes(nullptr, 0)); });
    expect(contains(e.what(), "image"), "builders no image", "names the field");
    e = expect_error("builders bad growth", VIDU_ERROR_INVALID_INPUT, [&] {
        vidu::client c(vidu::config(VIDU_PROVIDER_VTRIX).api_key("k").poll_growth(99));
    });
    expect(contains(e.what(), "growth"), "builders bad growth", "names the field");

    vidu_credits credits = client.credits();
    expect(credits.credit_remain > 0 && credits.concurrency_limit == 5, "credits",
           std::to_string(credits.credit_remain) + " credits, limit " +
               std::to_string(credits.concurrency_limit));
    if (credits.credit_remain > 0) std::printf("ok credits: %lld\n", (long long)credits.credit_remain);
    vidu::client vtrix(vidu::config(VIDU_PROVIDER_VTRIX).api_key("k").base_url(emu.base_url()));
    expect_error("credits on Vtrix", VIDU_ERROR_UNSUPPORTED, [&] { vtrix.credits(); });
}

void failed_task() {
    vidu::emulator emu("task-fails");
    vidu::client client(config_for(emu, VIDU_PROVIDER_VIDU));
    std::string out = workdir + "/failed.mp4";
    auto e = expect_error("failed task", VIDU_ERROR_TASK_FAILED,
                          [&] { client.generate(job_for_image(), out); });
    expect(!e.task_id().empty() && contains(e.what(), e.task_id()), "failed task",
           "carries the task id: \"" + e.task_id() + "\"");
    expect(!e.provider_code().empty() && contains(e.what(), e.provider_code()), "failed task",
           "carries the provider's code: \"" + e.provider_code() + "\"");
    expect(!exists(out), "failed task", "no file at the output path");

    auto again = expect_error("resume a failed task", VIDU_ERROR_TASK_FAILED,
                              [&] { client.resume(e.task_id(), out); });
    expect(again.task_id() == e.task_id(), "resume a failed task", "the same task id");

    e = expect_error("status of an unknown task", VIDU_ERROR_API,
                     [&] { client.status("no-such-task"); });
    expect(e.http_status() == 404, "status of an unknown task",
           "HTTP status " + std::to_string(e.http_status()));
}

void unfinished_task() {
    vidu::emulator emu("never-finishes");
    vidu::client client(config_for(emu, VIDU_PROVIDER_UMODELVERSE));
    std::string out = workdir + "/unfinished.mp4";
    vidu::wait_options briefly;
    briefly.timeout_secs = 0.3;
    auto e = expect_error("timeout", VIDU_ERROR_TIMEOUT,
                          [&] { client.generate(job_for_image(), out, briefly); });
    expect(!e.task_id().empty() && contains(e.what(), e.task_id()), "timeout",
           "carries the task id: \"" + e.task_id() + "\"");
    expect(!exists(out), "timeout", "no file at the output path");

    // The id is the real one, and a status's strings outlive the expression that read them.
    vidu::task_status status = client.status(e.task_id());
    const char *id = status.task_id().c_str();
    expect(e.task_id() == id, "timeout", std::string("status of the task names ") + id);
    e = expect_error("download of a running task", VIDU_ERROR_DOWNLOAD,
                     [&] { client.download(status, out); });
    expect(!exists(out), "download of a running task", "no file at the output path");

    std::string task = client.submit(job_for_image());
    vidu::cancel_token token;
    std::promise<void> polled;
    vidu::wait_options cancellable;
    cancellable.timeout_secs = 60;
    cancellable.cancel = &token;
    bool first = true;
    cancellable.on_progress = [&](const vidu_progress &) {
        if (first) polled.set_value();
        first = false;
        return true;
    };
    std::thread canceller([&, done = polled.get_future()] {
        done.wait();
        token.cancel();
    });
    e = expect_error("cancel token from another thread", VIDU_ERROR_CANCELLED,
                     [&] { client.wait(task, cancellable); });
    canceller.join();
    expect(e.task_id() == task, "cancel token from another thread",
           "carries task " + task + ": \"" + e.task_id() + "\"");

    int calls = 0;
    vidu::wait_options stop;
    stop.on_progress = [&](const vidu_progress &) {
        calls++;
        return false;
    };
    e = expect_error("progress callback returns stop", VIDU_ERROR_CANCELLED,
                     [&] { client.generate(job_for_image(), out, stop); });
    expect(calls == 1, "progress callback returns stop", std::to_string(calls) + " calls");
    expect(!e.task_id().empty() && contains(e.what(), e.task_id()),
           "progress callback returns stop", "carries the task id");

    vidu::wait_options throwing;
    throwing.on_progress = [](const vidu_progress &) -> bool {
        throw std::logic_error("thrown by the callback");
    };
    try {
        client.wait(task, throwing);
        expect(false, "progress callback throws", "nothing was thrown");
    } catch (const std::logic_error &thrown) {
        expect(std::string(thrown.what()) == "thrown by the callback",
               "progress callback throws", thrown.what());
        std::printf("ok progress callback throws: %s\n", thrown.what());
    }

    vidu::client vtrix(config_for(emu, VIDU_PROVIDER_VTRIX));
    expect_error("remote cancel on Vtrix", VIDU_ERROR_UNSUPPORTED, [&] { vtrix.cancel(task); });
}

/* Remote cancel on the official API at `url`: the test counts the cancel request there. */
void failing_polls() {
    // Every status poll answers 503: retried until the deadline, which then reports the last
    // poll's error (not a bare timeout), with the task id.
    vidu::emulator emu("status-unavailable");
    vidu::client client(config_for(emu, VIDU_PROVIDER_VTRIX));
    std::string out = workdir + "/unavailable.mp4";
    vidu::wait_options briefly;
    briefly.timeout_secs = 0.5;
    auto e = expect_error("polls failing at the deadline", VIDU_ERROR_API,
                          [&] { client.generate(job_for_image(), out, briefly); });
    expect(e.http_status() == 503, "polls failing at the deadline",
           "HTTP status " + std::to_string(e.http_status()));
    expect(!e.task_id().empty() && contains(e.what(), e.task_id()),
           "polls failing at the deadline", "carries the task id: \"" + e.task_id() + "\"");
    expect(!exists(out), "polls failing at the deadline", "no file at the output path");
}

void remote_cancel(const std::string &url) {
    vidu::client client(vidu::config(VIDU_PROVIDER_VIDU).api_key("key").base_url(url));
    std::string task = client.submit(job_for_image());
    client.cancel(task);
    vidu_state state = client.status(task).state();
    expect(state == VIDU_STATE_CANCELLED, "remote cancel on Vidu",
           "state after the cancel: " + std::to_string(state));
    if (state == VIDU_STATE_CANCELLED) std::printf("ok remote cancel on Vidu: %s\n", task.c_str());
    auto e = expect_error("remote cancel of an unknown task", VIDU_ERROR_API,
                          [&] { client.cancel("no-such-task"); });
    expect(e.task_id() == "no-such-task", "remote cancel of an unknown task",
           "names the task: \"" + e.task_id() + "\"");
}

}  // namespace

int main(int argc, char **argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: errors IMAGE WORKDIR VIDU_URL\n");
        return 2;
    }
    image = argv[1];
    workdir = argv[2];
    try {
        vidu::emulator emu;
        invalid_input(emu);
        builders(emu);
        failed_task();
        unfinished_task();
        failing_polls();
        remote_cancel(argv[3]);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "FAIL: unexpected exception: %s\n", e.what());
        return 1;
    }
    std::printf("%d failures\n", failures);
    return failures ? 1 : 0;
}
