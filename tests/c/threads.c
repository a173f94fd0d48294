/* Several pthreads share one vidu_client: each generates videos against the emulator while the
 * main thread fires some of their cancel tokens at chosen moments. Every call must return, with
 * either the video (VIDU_OK, a task id, the size) or VIDU_ERROR_CANCELLED carrying the task id.
 * Run by tests/c_threads.rs, also under valgrind's helgrind and DRD.
 *
 *   threads <base_url> <out_dir> <image.png> <seed>
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vidu.h"

#define THREADS 4
#define JOBS 2

struct worker {
    const struct vidu_client *client;
    const char *out_dir;
    const unsigned char *image;
    size_t image_len;
    int index;
    struct vidu_cancel_token *tokens[JOBS];
    int done, cancelled, failed;
};

static void *work(void *arg) {
    struct worker *w = arg;
    for (int j = 0; j < JOBS; j++) {
        struct vidu_job job;
        memset(&job, 0, sizeof job);
        job.struct_size = sizeof job;
        job.image_data = w->image;
        job.image_len = w->image_len;
        job.prompt = "the cat turns its head";
        struct vidu_wait_options options;
        memset(&options, 0, sizeof options);
        options.struct_size = sizeof options;
        options.timeout_secs = 60;
        options.cancel = w->tokens[j];
        char path[4096];
        snprintf(path, sizeof path, "%s/t%d-%d.mp4", w->out_dir, w->index, j);
        char *task_id = NULL;
        uint64_t bytes = 0;
        struct vidu_error *err = NULL;
        vidu_result r = vidu_client_generate(w->client, &job, path, &options, &task_id, &bytes, &err);
        if (r == VIDU_OK && task_id != NULL && bytes > 0) {
            w->done++;
        } else if (r == VIDU_ERROR_CANCELLED && vidu_error_task_id(err) != NULL) {
            w->cancelled++;
        } else {
            fprintf(stderr, "thread %d job %d: code %u: %s\n", w->index, j, (unsigned)r,
                    err ? vidu_error_message(err) : "(no error object)");
            w->failed++;
        }
        vidu_string_free(task_id);
        vidu_error_free(err);
    }
    return NULL;
}

static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *buf = malloc(1 << 20);
    *len = buf ? fread(buf, 1, 1 << 20, f) : 0;
    fclose(f);
    return buf;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: threads <base_url> <out_dir> <image.png> <seed>\n");
        return 2;
    }
    size_t image_len = 0;
    unsigned char *image = read_file(argv[3], &image_len);
    if (!image) {
        perror(argv[3]);
        return 2;
    }
    unsigned long seed = strtoul(argv[4], NULL, 10);

    struct vidu_config config;
    memset(&config, 0, sizeof config);
    config.struct_size = sizeof config;
    config.provider = VIDU_PROVIDER_VIDU;
    config.api_key = "test-key";
    config.base_url = argv[1];
    config.poll_first_secs = 0.01;
    config.poll_max_secs = 0.02;
    config.retry_base_secs = 0.01;
    config.proxy_from_env = VIDU_TRISTATE_FALSE;
    struct vidu_client *client = NULL;
    struct vidu_error *err = NULL;
    if (vidu_client_new(&config, &client, &err) != VIDU_OK) {
        fprintf(stderr, "client: %s\n", vidu_error_message(err));
        return 1;
    }

    struct worker workers[THREADS];
    pthread_t ids[THREADS];
    for (int i = 0; i < THREADS; i++) {
        memset(&workers[i], 0, sizeof workers[i]);
        workers[i].client = client;
        workers[i].out_dir = argv[2];
        workers[i].image = image;
        workers[i].image_len = image_len;
        workers[i].index = i;
        for (int j = 0; j < JOBS; j++) workers[i].tokens[j] = vidu_cancel_token_new();
        if (pthread_create(&ids[i], NULL, work, &workers[i]) != 0) return 1;
    }
    /* Fire about a third of the tokens, a few milliseconds apart (seeded). */
    for (int i = 0; i < THREADS; i++) {
        for (int j = 0; j < JOBS; j++) {
            seed = seed * 6364136223846793005UL + 1442695040888963407UL;
            if ((seed >> 33) % 3 == 0) {
                struct timespec pause = {0, (long)((seed >> 40) % 40) * 1000000L};
                nanosleep(&pause, NULL);
                vidu_cancel_token_cancel(workers[i].tokens[j]);
            }
        }
    }
    int done = 0, cancelled = 0, failed = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(ids[i], NULL);
        done += workers[i].done;
        cancelled += workers[i].cancelled;
        failed += workers[i].failed;
        for (int j = 0; j < JOBS; j++) vidu_cancel_token_free(workers[i].tokens[j]);
    }
    vidu_client_free(client);
    free(image);
    printf("done %d cancelled %d failed %d\n", done, cancelled, failed);
    return failed == 0 && done + cancelled == THREADS * JOBS ? 0 : 1;
}
