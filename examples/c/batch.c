/*
 * batch: many videos from one thread through vidu_client_run_batch, on the built-in emulator.
 *
 *   batch IMAGE OUTDIR PROMPT...     one job per prompt, writing OUTDIR/<n>.mp4
 *
 * Prints one line per job with its task id; exits 0 when every video was written, 3 when some
 * job failed, 1 on any other error. VIDU_BASE_URL: use that server instead of starting the
 * built-in emulator (the test suite points it at an emulator where one prompt fails).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vidu.h"

static int on_event(void *userdata, const vidu_batch_event *e) {
    (void)userdata;
    if (e->kind == VIDU_BATCH_EVENT_SUBMITTED)
        fprintf(stderr, "job %zu: submitted task %s\n", e->job, e->task_id);
    return VIDU_PROGRESS_CONTINUE;
}

static int fail(vidu_result rc, vidu_error *err) {
    fprintf(stderr, "batch: error %u: %s\n", rc, err ? vidu_error_message(err) : "?");
    vidu_error_free(err);
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: batch IMAGE OUTDIR PROMPT...\n");
        return 2;
    }
    size_t count = (size_t)(argc - 3);
    vidu_error *err = NULL;
    vidu_emulator *emulator = NULL;
    const char *base_url = getenv("VIDU_BASE_URL");
    if (!base_url) {
#ifdef VIDU_HAS_EMULATOR
        vidu_result rc = vidu_emulator_start(NULL, NULL, &emulator, &err);
        if (rc != VIDU_OK) return fail(rc, err);
        base_url = vidu_emulator_base_url(emulator);
#else
        fprintf(stderr, "batch: set VIDU_BASE_URL (this library has no emulator)\n");
        return 2;
#endif
    }
    vidu_config config = {.struct_size = sizeof config, .provider = VIDU_PROVIDER_VIDU,
                          .api_key = "key", .base_url = base_url, .poll_first_secs = 0.02,
                          .poll_max_secs = 0.05};
    vidu_client *client = NULL;
    vidu_result rc = vidu_client_new(&config, &client, &err);
    if (rc != VIDU_OK) return fail(rc, err);

    vidu_job *jobs = calloc(count, sizeof *jobs);
    vidu_batch_item *items = calloc(count, sizeof *items);
    char (*outputs)[4096] = calloc(count, sizeof *outputs);
    if (!jobs || !items || !outputs) return 1;
    for (size_t i = 0; i < count; i++) {
        jobs[i] = (vidu_job){.struct_size = sizeof jobs[i], .image_path = argv[1],
                             .prompt = argv[3 + i]};
        snprintf(outputs[i], sizeof outputs[i], "%s/%zu.mp4", argv[2], i);
        items[i] = (vidu_batch_item){.struct_size = sizeof items[i], .job = &jobs[i],
                                     .output = outputs[i]};
    }
    vidu_batch_options options = {.struct_size = sizeof options, .concurrency = 2,
                                  .timeout_secs = 60, .on_event = on_event};
    vidu_batch_result *result = NULL;
    rc = vidu_client_run_batch(client, items, count, &options, &result, &err);
    int code = 0;
    if (rc != VIDU_OK) {
        code = fail(rc, err);
    } else {
        for (size_t i = 0; i < count; i++) {
            const char *task_id = vidu_batch_result_task_id(result, i);
            switch (vidu_batch_result_kind(result, i)) {
            case VIDU_OUTCOME_WRITTEN:
                printf("job %zu: task %s: wrote %s (%llu bytes)\n", i, task_id,
                       vidu_batch_result_path(result, i),
                       (unsigned long long)vidu_batch_result_bytes(result, i));
                break;
            case VIDU_OUTCOME_FAILED:
                printf("job %zu: task %s: failed: %s\n", i, task_id ? task_id : "-",
                       vidu_error_message(vidu_batch_result_error(result, i)));
                code = 3;
                break;
            default:
                printf("job %zu: not finished (task %s)\n", i, task_id ? task_id : "-");
                code = code ? code : 1;
            }
        }
    }
    vidu_batch_result_free(result);
    free(outputs);
    free(items);
    free(jobs);
    vidu_client_free(client);
#ifdef VIDU_HAS_EMULATOR
    vidu_emulator_free(emulator);
#endif
    return code;
}
