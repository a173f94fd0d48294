/*
 * img2video: image + prompt -> MP4 through the vidu C API, on any provider, offline on the
 * built-in emulator when no API key and no base URL are given. Same command line, messages and
 * exit codes as the Rust example (examples/img2video.rs):
 *
 *   0 video written; 2 bad usage or invalid input (nothing sent); 3 the task failed at the
 *   provider; 4 timeout (the task goes on: its id is printed); 130 interrupted by Ctrl-C (the
 *   task goes on: its id and the --task-id line to resume it are printed); 1 any other error.
 *
 * Ctrl-C: the first SIGINT stops the wait (or the download) through a vidu_cancel_token; the
 * signal handler only writes a byte to a pipe, and a thread reading it cancels the token. A
 * second SIGINT kills the program as usual.
 *
 * Build: make -C examples/c      Run: examples/c/img2video --provider vidu --image cat.png ...
 */
#define _POSIX_C_SOURCE 200809L /* sigaction, pipe, pthreads with -std=c99 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vidu.h"

static const char USAGE[] =
    "usage: img2video --provider umodelverse|vtrix|vidu [--base-url URL] [--api-key KEY]\n"
    "       [--model MODEL] --image PATH_OR_URL [--prompt TEXT] [--duration N] [--resolution R]\n"
    "       [--movement-amplitude A] [--seed N] [--bgm] [--poll-interval SECS] [--timeout SECS]\n"
    "       --output FILE.mp4\n"
    "   or: img2video --provider P [--base-url URL] [--api-key KEY] --task-id ID [--poll-interval SECS]\n"
    "       [--timeout SECS] --output FILE.mp4     (wait for a task submitted earlier, no new charge)\n"
    "VIDU_API_KEY, VIDU_BASE_URL and VIDU_PROVIDER stand in for the flags. With no API key and no\n"
    "base URL the built-in emulator is started (offline).";

static int usage_error(const char *message) {
    fprintf(stderr, "img2video: error: %s\n%s\n", message, USAGE);
    return 2;
}

/* Ctrl-C: the handler writes to this pipe (async-signal-safe); `watch_interrupt` reads it and
 * cancels the token, which stops the wait or the download at once. */
static int interrupt_pipe[2] = {-1, -1};
static volatile sig_atomic_t interrupted = 0;

static void on_sigint(int signo) {
    (void)signo;
    int saved = errno;
    interrupted = 1;
    ssize_t ignored = write(interrupt_pipe[1], "!", 1);
    (void)ignored;
    errno = saved;
}

static void *watch_interrupt(void *token) {
    char byte;
    ssize_t n;
    while ((n = read(interrupt_pipe[0], &byte, 1)) < 0 && errno == EINTR) {
    }
    if (n == 1) vidu_cancel_token_cancel(token);
    return NULL; /* n == 0: the program closed the pipe, it is done */
}

/* Installs the Ctrl-C handler (once: SA_RESETHAND, so a second Ctrl-C kills the program) and
 * its watcher thread. Returns 0 on failure; the program then runs without it. */
static int catch_interrupt(vidu_cancel_token *token, pthread_t *watcher) {
    if (pipe(interrupt_pipe) != 0) return 0;
    if (pthread_create(watcher, NULL, watch_interrupt, token) != 0) {
        close(interrupt_pipe[0]);
        close(interrupt_pipe[1]);
        return 0;
    }
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_sigint;
    action.sa_flags = SA_RESETHAND;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    return 1;
}

/* Puts SIGINT back to its default and stops the watcher. */
static void release_interrupt(pthread_t watcher) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = SIG_DFL;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    close(interrupt_pipe[1]); /* the watcher reads end-of-file and returns */
    pthread_join(watcher, NULL);
    close(interrupt_pipe[0]);
}

/* The exit code for a library error, shared with the Rust example. */
static int exit_code(vidu_result code) {
    if (code == VIDU_ERROR_CANCELLED && interrupted) return 130;
    switch (code) {
    case VIDU_ERROR_INVALID_INPUT: return 2;
    case VIDU_ERROR_TASK_FAILED: return 3;
    case VIDU_ERROR_TIMEOUT: return 4;
    default: return 1;
    }
}

/* Prints the error (naming the task whenever one exists, and how to resume it when it goes
 * on), frees it, returns the exit code. */
static int report(vidu_result code, vidu_error *err, const char *task_id) {
    const char *message = err ? vidu_error_message(err) : "unknown error";
    const char *id = err && vidu_error_task_id(err) ? vidu_error_task_id(err) : task_id;
    int has_id = id && id[0];
    int resumable = has_id && (code == VIDU_ERROR_TIMEOUT || code == VIDU_ERROR_CANCELLED ||
                               code == VIDU_ERROR_TRANSPORT || code == VIDU_ERROR_DOWNLOAD ||
                               code == VIDU_ERROR_IO || code == VIDU_ERROR_PROTOCOL);
    fprintf(stderr, "img2video: %s: %s", interrupted ? "interrupted" : "error", message);
    if (has_id && !strstr(message, id)) fprintf(stderr, " (task %s)", id);
    if (resumable) fprintf(stderr, "; to resume: --task-id %s", id);
    fputc('\n', stderr);
    vidu_error_free(err);
    return exit_code(code);
}

static const char *env(const char *name) {
    const char *v = getenv(name);
    return v && v[0] ? v : NULL;
}

/* Whole numbers and seconds, strictly parsed. */
static int parse_u64(const char *s, uint64_t *out) {
    char *end;
    if (!s[0] || s[0] == '-' || s[0] == '+') return 0;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return 0;
    *out = v;
    return 1;
}

static int parse_seconds(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!s[0] || errno || *end || !isfinite(v) || v <= 0 || v >= 1e9) return 0;
    *out = v;
    return 1;
}

/* http:// and https:// (any case) are URLs the provider fetches; anything else is a file. */
static int is_url(const char *s) {
    static const char *const schemes[] = {"http://", "https://"};
    for (int k = 0; k < 2; k++) {
        const char *p = schemes[k], *q = s;
        while (*p && tolower((unsigned char)*q) == *p) p++, q++;
        if (!*p) return 1;
    }
    return 0;
}

/* What the progress callback keeps: the task id, to name it in any later error. */
struct progress_line {
    char task_id[257];
    int shown;
};

static int on_progress(void *userdata, const vidu_progress *p) {
    struct progress_line *line = userdata;
    snprintf(line->task_id, sizeof line->task_id, "%s", p->task_id);
    const char *state = p->state == VIDU_STATE_UNKNOWN ? p->raw_state : vidu_state_name(p->state);
    fprintf(stderr, "\rtask %s: %s", p->task_id, state);
    if (p->progress >= 0) fprintf(stderr, " %.0f%%", p->progress * 100.0);
    fprintf(stderr, " %.1fs    ", p->elapsed_secs);
    fflush(stderr);
    line->shown = 1;
    return VIDU_PROGRESS_CONTINUE;
}

#ifdef VIDU_HAS_EMULATOR
static void free_emulator(vidu_emulator *emulator) { vidu_emulator_free(emulator); }
#else
typedef void vidu_emulator; /* stands in for the type this library does not have */
static void free_emulator(vidu_emulator *emulator) { (void)emulator; }
#endif

int main(int argc, char **argv) {
    const char *provider_name = env("VIDU_PROVIDER");
    const char *base_url = env("VIDU_BASE_URL");
    const char *api_key = env("VIDU_API_KEY");
    const char *image = NULL, *output = NULL, *resume_id = NULL;
    double poll_interval = 0, timeout = 0;
    vidu_job job = {.struct_size = sizeof job};
    char message[512];

    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i];
        if (!strcmp(flag, "--bgm")) {
            job.bgm = VIDU_TRISTATE_TRUE;
            continue;
        }
        if (!strcmp(flag, "-h") || !strcmp(flag, "--help")) {
            puts(USAGE);
            return 0;
        }
        if (i + 1 >= argc) {
            snprintf(message, sizeof message, "%s needs a value", flag);
            return usage_error(message);
        }
        const char *value = argv[++i];
        uint64_t n;
        if (!strcmp(flag, "--provider")) provider_name = value;
        else if (!strcmp(flag, "--base-url")) base_url = value;
        else if (!strcmp(flag, "--api-key")) api_key = value;
        else if (!strcmp(flag, "--model")) job.model = value;
        else if (!strcmp(flag, "--image")) image = value;
        else if (!strcmp(flag, "--prompt")) job.prompt = value;
        else if (!strcmp(flag, "--resolution")) job.resolution = value;
        else if (!strcmp(flag, "--output")) output = value;
        else if (!strcmp(flag, "--task-id")) resume_id = value;
        else if (!strcmp(flag, "--duration") || !strcmp(flag, "--seed")) {
            if (!parse_u64(value, &n)) {
                snprintf(message, sizeof message, "%s \"%s\": expected a whole number", flag, value);
                return usage_error(message);
            }
            if (flag[2] == 's') {
                job.seed = n;
            } else if (n > UINT32_MAX) {
                snprintf(message, sizeof message, "--duration \"%s\" is too large", value);
                return usage_error(message);
            } else {
                job.duration = (uint32_t)n;
            }
        } else if (!strcmp(flag, "--movement-amplitude")) {
            vidu_error *err = NULL;
            if (vidu_movement_amplitude_from_name(value, &job.movement_amplitude, &err) != VIDU_OK) {
                int code = usage_error(vidu_error_message(err));
                vidu_error_free(err);
                return code;
            }
        } else if (!strcmp(flag, "--poll-interval") || !strcmp(flag, "--timeout")) {
            if (!parse_seconds(value, flag[2] == 'p' ? &poll_interval : &timeout)) {
                snprintf(message, sizeof message,
                         "%s \"%s\": expected a number of seconds above zero", flag, value);
                return usage_error(message);
            }
        } else {
            snprintf(message, sizeof message, "unknown flag \"%s\"", flag);
            return usage_error(message);
        }
    }
    if (!provider_name || !output) {
        return usage_error("--provider and --output are required");
    }
    if (!image == !resume_id) {
        return usage_error("give --image (a new task) or --task-id (a task submitted earlier)");
    }
    vidu_provider provider;
    vidu_error *err = NULL;
    if (vidu_provider_from_name(provider_name, &provider, &err) != VIDU_OK) {
        int code = usage_error(vidu_error_message(err));
        vidu_error_free(err);
        return code;
    }

    /* No key and no base URL: the built-in emulator, in this process, until the end. */
    vidu_emulator *emulator = NULL;
#ifdef VIDU_HAS_EMULATOR
    if (!api_key && !base_url) {
        vidu_result rc = vidu_emulator_start(env("VIDU_EMULATOR_SCENARIO"), NULL, &emulator, &err);
        if (rc == VIDU_ERROR_INVALID_INPUT) {
            snprintf(message, sizeof message, "VIDU_EMULATOR_SCENARIO: %s", vidu_error_message(err));
            vidu_error_free(err);
            return usage_error(message);
        }
        if (rc != VIDU_OK) return report(rc, err, NULL);
        base_url = vidu_emulator_base_url(emulator);
        api_key = "emulator"; /* the emulator takes any key */
        /* It moves a task on at every poll: no need to wait seconds between polls. */
        if (poll_interval == 0) poll_interval = 0.25;
        fprintf(stderr,
                "img2video: no API key and no base URL: using the built-in emulator at %s\n",
                base_url);
    } else if (!api_key) {
        return usage_error("no API key: pass --api-key or set VIDU_API_KEY");
    }
#else
    if (!api_key) {
        return usage_error("no API key: pass --api-key or set VIDU_API_KEY (this vidu library "
                           "has no built-in emulator)");
    }
#endif

    vidu_config config = {
        .struct_size = sizeof config,
        .provider = provider,
        .api_key = api_key,
        .base_url = base_url, /* NULL: the provider's own */
        .poll_first_secs = poll_interval, /* 0: the default */
    };
    vidu_client *client = NULL;
    vidu_result rc = vidu_client_new(&config, &client, &err);
    if (rc != VIDU_OK) {
        free_emulator(emulator);
        return report(rc, err, NULL);
    }

    vidu_cancel_token *token = vidu_cancel_token_new();
    pthread_t watcher;
    int catching = token && catch_interrupt(token, &watcher);
    struct progress_line line = {{0}, 0};
    vidu_wait_options wait = {
        .struct_size = sizeof wait,
        .cancel = token,
        .timeout_secs = timeout, /* 0: the default */
        .on_progress = on_progress,
        .userdata = &line,
    };
    char *task_id = NULL;
    uint64_t bytes = 0;
    if (resume_id) {
        rc = vidu_client_resume(client, resume_id, output, &wait, &bytes, &err);
    } else {
        if (is_url(image)) {
            job.image_url = image;
        } else {
            job.image_path = image;
        }
        rc = vidu_client_generate(client, &job, output, &wait, &task_id, &bytes, &err);
    }
    if (catching) release_interrupt(watcher);
    vidu_cancel_token_free(token);
    if (line.shown) fputc('\n', stderr); /* end the progress line */
    int code = 0;
    if (rc == VIDU_OK) {
        printf("task %s: wrote %s (%llu bytes)\n", resume_id ? resume_id : task_id, output,
               (unsigned long long)bytes);
        vidu_string_free(task_id);
    } else {
        code = report(rc, err, line.task_id);
    }
    vidu_client_free(client);
    free_emulator(emulator);
    return code;
}
