/* Corpus replay: reads files and directories of inputs and runs the fuzz target on each. */
#include "replay.h"

#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>

static int replay_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		perror(path);
		return -1;
	}
	static uint8_t buf[1 << 20];
	size_t n = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	LLVMFuzzerTestOneInput(buf, n);
	return 0;
}

static int replay_path(const char *path, int *count)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		perror(path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return replay_file(path);
	}
	DIR *d = opendir(path);
	if (!d)
		return -1;
	struct dirent *e;
	int err = 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char p[4096];
		snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
		if (replay_path(p, count) < 0)
			err = -1;
	}
	closedir(d);
	return err;
}

int fuzz_replay(int argc, char **argv, int *count)
{
	int err = 0;
	*count = 0;
	for (int i = 1; i < argc; i++)
		if (replay_path(argv[i], count) < 0)
			err = -1;
	return err;
}
