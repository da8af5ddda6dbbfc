/*
 * Load generator for bench/sensor.py: opens and closes a file (or calls getppid, connects
 * to a closed local port, or forks and execs a program) at a paced rate for a duration,
 * then prints how many calls it made and the ns per call.
 *
 *   sensor_loadgen open|getppid RATE SECONDS PATH   (RATE 0 = as fast as possible)
 *   sensor_loadgen connect RATE SECONDS PORT        (127.0.0.1:PORT, refused)
 *   sensor_loadgen exec RATE SECONDS PROGRAM        (fork, exec PROGRAM, wait)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: %s open|getppid RATE SECONDS PATH\n", argv[0]);
		return 2;
	}
	int do_open = strcmp(argv[1], "open") == 0;
	int do_connect = strcmp(argv[1], "connect") == 0;
	int do_exec = strcmp(argv[1], "exec") == 0;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	double rate = atof(argv[2]);
	double secs = atof(argv[3]);
	const char *path = argv[4];
	long long start = now_ns(), end = start + (long long)(secs * 1e9), n = 0;
	long long batch = do_exec ? 1 : 64;

	if (do_connect) {
		sa.sin_port = htons(atoi(path));
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}

	while (1) {
		long long t = now_ns();
		if (t >= end)
			break;
		if (rate > 0) {
			/* pace in batches: stay on the schedule start + n / rate */
			long long due = start + (long long)((double)n * 1e9 / rate);
			if (t < due) {
				struct timespec d = {0, due - t > 200000 ? 200000 : due - t};
				nanosleep(&d, NULL);
				continue;
			}
		}
		for (long long i = 0; i < batch; i++) {
			if (do_connect) {
				int fd = socket(AF_INET, SOCK_STREAM, 0);
				if (fd >= 0) {
					connect(fd, (struct sockaddr *)&sa, sizeof(sa));
					close(fd);
				}
			} else if (do_exec) {
				pid_t pid = fork();
				if (pid == 0) {
					execl(path, path, (char *)NULL);
					_exit(127);
				}
				if (pid > 0)
					waitpid(pid, NULL, 0);
			} else if (do_open) {
				int fd = openat(AT_FDCWD, path, O_RDONLY);
				if (fd >= 0)
					close(fd);
			} else {
				getppid();
			}
		}
		n += batch;
	}
	long long el = now_ns() - start;
	printf("%lld %.1f\n", n, (double)el / (double)n);
	return 0;
}
