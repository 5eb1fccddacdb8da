#include "FuzzDriver.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

// Weak, because a normal build does not link libFuzzer. SwiftPM links every executable with
// `--defsym main=<Module>_main`, so libFuzzer's own `main` never runs: the harness's Swift `main` calls this
// shim, and the shim calls libFuzzer's driver when it is there (`-sanitize=fuzzer` links the whole runtime).
extern int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size))
    __attribute__((weak));

static int replay_file(const char *path, wharf_fuzz_callback callback) {
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        return -1;
    }
    size_t capacity = 4096, size = 0;
    uint8_t *data = malloc(capacity);
    size_t n;
    while (data != NULL && (n = fread(data + size, 1, capacity - size, file)) > 0) {
        size += n;
        if (size == capacity) {
            capacity *= 2;
            uint8_t *grown = realloc(data, capacity);
            if (grown == NULL) free(data);
            data = grown;
        }
    }
    fclose(file);
    if (data == NULL) {
        fprintf(stderr, "out of memory reading %s\n", path);
        return -1;
    }
    callback(data, size);
    free(data);
    return 1;
}

static int replay_path(const char *path, wharf_fuzz_callback callback) {
    struct stat info;
    if (stat(path, &info) != 0) {
        fprintf(stderr, "no such file or folder: %s\n", path);
        return -1;
    }
    if (!S_ISDIR(info.st_mode)) return replay_file(path, callback);
    DIR *dir = opendir(path);
    if (dir == NULL) {
        fprintf(stderr, "cannot open folder %s\n", path);
        return -1;
    }
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] == '.') continue;
        char child[4096];
        snprintf(child, sizeof child, "%s/%s", path, entry->d_name);
        if (stat(child, &info) != 0 || !S_ISREG(info.st_mode)) continue;
        int result = replay_file(child, callback);
        if (result < 0) {
            closedir(dir);
            return -1;
        }
        count += result;
    }
    closedir(dir);
    return count;
}

int wharf_fuzz_main(int argc, char **argv, wharf_fuzz_callback callback) {
    if (LLVMFuzzerRunDriver != NULL) return LLVMFuzzerRunDriver(&argc, &argv, callback);
    int total = 0, paths = 0;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-') continue;  // libFuzzer options mean nothing to a replay
        paths++;
        int count = replay_path(argv[i], callback);
        if (count < 0) return 1;
        total += count;
    }
    if (paths == 0) {
        fprintf(stderr,
                "usage: %s FILE-OR-FOLDER...\n"
                "This build has no libFuzzer, so it replays inputs; build with scripts/fuzz to fuzz.\n",
                argv[0]);
        return 2;
    }
    printf("replayed %d inputs without a failure\n", total);
    return 0;
}
