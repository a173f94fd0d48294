// logging.cpp: vidu::set_log_callback through vidu.hpp, against the built-in emulator. Run by
// tests/cpp.rs, also under valgrind.
//
//   logging IMAGE WORKDIR      prints "ok <case>" per passing case; exits 1 if any case fails
#include <atomic>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "vidu.hpp"

namespace {

const char *const KEY = "sk-CPPLOG-93d1e7a0c4";

int failures = 0;
std::string image, workdir;

void expect(bool ok, const std::string &name, const std::string &what) {
    if (!ok) {
        failures++;
        std::fprintf(stderr, "FAIL %s: %s\n", name.c_str(), what.c_str());
    }
}

void passed(const std::string &name, int before) {
    if (failures == before) std::printf("ok %s\n", name.c_str());
}

struct record {
    vidu_log_level level;
    std::string target, message;
};

/* One video through the emulator with the key; its task id. */
std::string one_video(const vidu::emulator &emu, const std::string &name) {
    vidu::client client(vidu::config(VIDU_PROVIDER_VIDU)
                            .api_key(KEY)
                            .base_url(emu.base_url())
                            .poll_first_secs(0.02)
                            .poll_max_secs(0.05)
                            .request_timeout_secs(30)
                            .trust_store(VIDU_TRUST_BUNDLED));
    std::string path = workdir + "/" + name + ".mp4";
    auto made = client.generate(vidu::job::from_path(image).prompt("the cat turns"), path);
    std::remove(path.c_str());
    return made.task_id;
}

void records_arrive(const vidu::emulator &emu) {
    const std::string name = "records arrive";
    int before = failures;
    std::mutex lock;
    std::vector<record> seen;
    vidu::set_log_callback(
        [&](vidu_log_level level, std::string_view target, std::string_view message) {
            std::lock_guard<std::mutex> guard(lock);
            seen.push_back({level, std::string(target), std::string(message)});
        },
        VIDU_LOG_DEBUG);
    std::string task = one_video(emu, "records");
    vidu::set_log_callback(nullptr);
    std::lock_guard<std::mutex> guard(lock);
    bool submitted = false;
    for (const auto &r : seen) {
        expect(r.level >= VIDU_LOG_ERROR && r.level <= VIDU_LOG_DEBUG, name,
               "level " + std::to_string(r.level) + " above the one set: " + r.message);
        expect(r.message.find(KEY) == std::string::npos, name, "the key was logged");
        if (r.level == VIDU_LOG_INFO && r.target.rfind("vidu", 0) == 0 &&
            r.message.find("submitted") != std::string::npos &&
            r.message.find(task) != std::string::npos)
            submitted = true;
    }
    expect(submitted, name, "an info record of the library names the task " + task);
    passed(name, before);
}

void a_throwing_callback_does_not_escape(const vidu::emulator &emu) {
    const std::string name = "a throwing callback does not escape";
    int before = failures;
    std::atomic<int> calls{0};
    vidu::set_log_callback(
        [&](vidu_log_level, std::string_view, std::string_view) {
            calls++;
            throw std::runtime_error("thrown by the log callback");
        },
        VIDU_LOG_INFO);
    try {
        one_video(emu, "throwing");
    } catch (const std::exception &e) {
        expect(false, name, std::string("escaped: ") + e.what());
    }
    expect(calls > 0, name, "the callback was called");
    passed(name, before);
}

void off_and_bad_level(const vidu::emulator &emu) {
    const std::string name = "off, and a bad level refused";
    int before = failures;
    std::atomic<int> calls{0};
    auto counting = [&](vidu_log_level, std::string_view, std::string_view) { calls++; };
    try {
        vidu::set_log_callback(counting, 6);
        expect(false, name, "level 6 was taken");
    } catch (const vidu::error &e) {
        expect(e.code() == VIDU_ERROR_INVALID_INPUT &&
                   std::string(e.what()).find("max_level") != std::string::npos,
               name, e.what());
    }
    vidu::set_log_callback(counting, VIDU_LOG_OFF);
    one_video(emu, "off");
    expect(calls == 0, name, "records after VIDU_LOG_OFF: " + std::to_string(calls.load()));
    passed(name, before);
}

/* The setters of the trust fields reach the C struct: a bad CA is refused naming its field. */
void trust_setters(const vidu::emulator &emu) {
    const std::string name = "trust setters reach the C struct";
    int before = failures;
    auto refused = [&](const vidu::config &cfg, const std::string &field) {
        try {
            vidu::client client(cfg);
            expect(false, name, field + ": no error");
        } catch (const vidu::error &e) {
            expect(e.code() == VIDU_ERROR_INVALID_INPUT &&
                       std::string(e.what()).find(field) != std::string::npos,
                   name, field + ": " + e.what());
        }
    };
    auto base = [&] {
        return vidu::config(VIDU_PROVIDER_VIDU).api_key(KEY).base_url(emu.base_url());
    };
    refused(base().ca_file(workdir + "/no-such-ca.pem"), "ca_file");
    refused(base().ca_pem("not a certificate"), "ca_pem");
    refused(base().trust_store(VIDU_TRUST_CA_ONLY), "ca-only");
    refused(base().request_timeout_secs(-1), "request_timeout");
    passed(name, before);
}

}  // namespace

int main(int argc, char **argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: logging IMAGE WORKDIR\n");
        return 2;
    }
    image = argv[1];
    workdir = argv[2];
    try {
        vidu::emulator emu(nullptr, KEY);
        records_arrive(emu);
        a_throwing_callback_does_not_escape(emu);
        off_and_bad_level(emu);
        trust_setters(emu);
        // Left set: turned off before the function is destroyed at exit.
        vidu::set_log_callback([](vidu_log_level, std::string_view, std::string_view) {});
    } catch (const std::exception &e) {
        std::fprintf(stderr, "FAIL: unexpected exception: %s\n", e.what());
        return 1;
    }
    std::printf("%d failures\n", failures);
    return failures ? 1 : 0;
}
