// img2video.cpp: the C++ wrapper (include/vidu.hpp) in a few lines. Makes a video from an
// image on the built-in emulator, or on a real provider when VIDU_API_KEY is set:
//
//   img2video_cpp IMAGE OUTPUT.mp4 [umodelverse|vtrix|vidu]
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
            if (vidu_provider_from_name(argv[3], &provider, &err) != VIDU_OK)
                throw vidu::error(VIDU_ERROR_INVALID_INPUT, err);
        }
        const char *key = std::getenv("VIDU_API_KEY");
        std::unique_ptr<vidu::emulator> emulator;
        std::string base_url;
        vidu_config config{};
        config.provider = provider;
        if (key && *key) {
            config.api_key = key;
        } else {
            emulator = std::make_unique<vidu::emulator>();
            base_url = emulator->base_url();
            config.api_key = "emulator";
            config.base_url = base_url.c_str();
            config.poll_first_secs = 0.05;
        }
        vidu::client client(config);

        vidu_job job{};
        job.image_path = argv[1];
        job.prompt = "the cat turns its head";
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
