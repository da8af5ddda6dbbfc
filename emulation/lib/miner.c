/* A stand-in for a cryptocurrency miner, for the emulation suite only: it speaks the
 * stratum JSON-RPC dialect XMRig uses to a pool the scenario runs on loopback, burns one
 * CPU for a few seconds and submits a made-up share. It mines nothing.
 *
 *   miner -o stratum+tcp://HOST:PORT -u WALLET [-p PASS] [-t SECONDS]
 *   miner -c config.json          (reads "url": "stratum+tcp://HOST:PORT")
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int parse_url(const char *url, char *host, size_t hostlen, int *port) {
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    const char *colon = strrchr(p, ':');
    if (!colon || (size_t)(colon - p) >= hostlen) return -1;
    memcpy(host, p, colon - p);
    host[colon - p] = 0;
    *port = atoi(colon + 1);
    return 0;
}

static int url_from_config(const char *path, char *url, size_t len) {
    FILE *f = fopen(path, "r");
    char buf[4096];
    size_t n;
    if (!f) return -1;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *k = strstr(buf, "\"url\"");
    if (!k) return -1;
    char *q1 = strchr(k + 5, '"');
    if (!q1) return -1;
    char *q2 = strchr(q1 + 1, '"');
    if (!q2 || (size_t)(q2 - q1 - 1) >= len) return -1;
    memcpy(url, q1 + 1, q2 - q1 - 1);
    url[q2 - q1 - 1] = 0;
    return 0;
}

int main(int argc, char **argv) {
    char url[256] = "", host[128];
    const char *wallet = "4EmuLationWaLLet000000000000000000000000000000000000000000", *pass = "x";
    int port, seconds = 3, opt;
    while ((opt = getopt(argc, argv, "o:u:p:c:t:")) != -1) {
        if (opt == 'o') snprintf(url, sizeof url, "%s", optarg);
        else if (opt == 'u') wallet = optarg;
        else if (opt == 'p') pass = optarg;
        else if (opt == 't') seconds = atoi(optarg);
        else if (opt == 'c' && url_from_config(optarg, url, sizeof url) != 0) return 2;
    }
    if (!url[0] || parse_url(url, host, sizeof host, &port) != 0) return 2;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, host, &a.sin_addr);
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) { perror("connect"); return 1; }
    char msg[1024], reply[4096];
    int n = snprintf(msg, sizeof msg,
        "{\"id\":1,\"jsonrpc\":\"2.0\",\"method\":\"login\",\"params\":{\"login\":\"%s\","
        "\"pass\":\"%s\",\"agent\":\"XMRig/6.21.0 (Linux x86_64) libuv/1.44.2 gcc/12.2.0\","
        "\"algo\":[\"rx/0\",\"cn/r\"]}}\n", wallet, pass);
    write(s, msg, n);
    n = read(s, reply, sizeof reply - 1);
    printf("pool replied %d bytes\n", n);
    unsigned long h = 1469598103934665603UL;
    time_t end = time(NULL) + seconds;
    while (time(NULL) < end)
        for (int i = 0; i < 1000000; i++) h = (h ^ (unsigned long)i) * 1099511628211UL;
    n = snprintf(msg, sizeof msg,
        "{\"id\":2,\"jsonrpc\":\"2.0\",\"method\":\"submit\",\"params\":{\"id\":\"emul\","
        "\"job_id\":\"1\",\"nonce\":\"%08lx\",\"result\":\"%016lx\"}}\n", h & 0xffffffff, h);
    write(s, msg, n);
    n = read(s, reply, sizeof reply - 1);
    close(s);
    return 0;
}
