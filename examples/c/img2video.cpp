// img2video.cpp: the C++ wrapper (include/vidu.hpp) in a few lines. Makes a video from an
// image on the built-in emulator, or on a real provider when VIDU_API_KEY is set:
//
//   img2video_cpp IMAGE OUTPUT.mp4 [umodelverse|vtrix|vidu]
//
// VIDU_EMULATOR_SCENARIO picks what the emulator's tasks do (e.g. task-fails).
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "vidu.hpp"

int main(int argc, char **argv) {
    if (argc < 3) {
        std::cerr << "usage: img2video_cpp IMAGE OUTPUT.mp4 [umodelverse|vtrix|vidu]\n";
        return 2;
    }
    try {
        vidu_provider provider = VIDU_PROVIDER_VIDU;
        if (argc > 3) {
            vidu_error *err = nullptr;
            vidu_result rc = vidu_provider_from_name(argv[3], &provider, &err);
            if (rc != VIDU_OK) throw vidu::error(rc, err);
        }
        const char *key = std::getenv("VIDU_API_KEY");
        std::unique_ptr<vidu::emulator> emulator;
        vidu::config config(provider);
        if (key && *key) {
            config.api_key(key);
        } else {
            emulator = std::make_unique<vidu::emulator>(std::getenv("VIDU_EMULATOR_SCENARIO"));
            config.api_key("emulator").base_url(emulator->base_url()).poll_first_secs(0.05);
        }
        vidu::client client(config);

        auto job = vidu::job::from_path(argv[1]).prompt("the cat turns its head");
        vidu::wait_options wait;
        wait.on_progress = [](const vidu_progress &p) {
            std::fprintf(stderr, "\rtask %s: %s %.1fs", p.task_id, vidu_state_name(p.state),
                         p.elapsed_secs);
            return true;
        };
        vidu::generated done = client.generate(job, argv[2], wait);
        std::fprintf(stderr, "\n");
        std::cout << "task " << done.task_id << ": wrote " << argv[2] << " (" << done.bytes
                  << " bytes)\n";
        return 0;
    } catch (const vidu::error &e) {
        std::cerr << "\nimg2video_cpp: error: " << e.what() << '\n';
        return e.code() == VIDU_ERROR_TASK_FAILED ? 3 : 1;
    }
}
