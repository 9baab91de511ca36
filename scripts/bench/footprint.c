// The memory a proxy's request touches, from valgrind lackey's trace of every instruction and data access
// (--trace-mem=yes) on stdin: what a request that finds the caches cold must fetch again. Used by
// scripts/footprint-gateway.sh; built there with `cc -O2`.
//
//   footprint TRIGGER ATTRIBUTION CODE REGIONS BINARY-NAME
//
// Lines are passed over until the file TRIGGER exists (the script writes it after the warm-up). Its first line is
// the address of libc's epoll_wait in the traced process, its second the addresses of libc's read, readv, recv and
// recvfrom, the rest the process's /proc/PID/maps. From then on the trace is cut into turns of the event loop, one
// per call of epoll_wait, and in each turn the distinct 64-byte lines of code and of data are counted: a line touched
// twice in a turn is fetched once, a line touched in two turns is fetched in each (another process may run between
// them). Only turns that read a socket count: a request is two such turns (the client's request, the upstream's
// response); the others (timers, the runtime's own threads, slowed 50-fold under valgrind) are counted apart.
// Prints one line: turns, code lines, data lines, data lines by where they lie, and the other turns' counts.
// Writes ATTRIBUTION: for each instruction address, how many data lines it was the first in its turn to touch;
// CODE: for each code line (its address), how many counted turns ran through it; and REGIONS: the maps it
// classified by.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SET_BITS 18
#define SET_SIZE (1u << SET_BITS)
typedef struct { uint64_t key; uint32_t turn; } Slot;
static Slot codeLines[SET_SIZE], dataLines[SET_SIZE];
static uint32_t turn = 1;

// Adds `line` to `set` for this turn; 1 when it was not there yet.
static int firstInTurn(Slot *set, uint64_t line) {
    uint64_t h = (line * 0x9E3779B97F4A7C15ull) >> (64 - SET_BITS);
    for (;;) {
        if (set[h].turn != turn) { set[h].turn = turn; set[h].key = line; return 1; }
        if (set[h].key == line) return 0;
        h = (h + 1) & (SET_SIZE - 1);
    }
}

enum { BINARY, LIBRARIES, ANONYMOUS, OTHER, CLASSES };
static const char *className[] = {"binary", "libraries", "anonymous", "other"};
typedef struct { uint64_t low, high; int cls; char name[256]; } Region;
static Region regions[4096];
static int regionCount;
static int classify(uint64_t address) {
    for (int i = 0; i < regionCount; i++)
        if (address >= regions[i].low && address < regions[i].high) return regions[i].cls;
    return OTHER;
}

#define ATTRIBUTION_BITS 20
typedef struct { uint64_t ip, count; } Attribution;
static Attribution attribution[1u << ATTRIBUTION_BITS], codeAttribution[1u << ATTRIBUTION_BITS];
static void attribute(Attribution *table, uint64_t ip) {
    uint64_t h = (ip * 0x9E3779B97F4A7C15ull) >> (64 - ATTRIBUTION_BITS);
    for (;;) {
        if (table[h].ip == 0) { table[h].ip = ip; table[h].count = 1; return; }
        if (table[h].ip == ip) { table[h].count++; return; }
        h = (h + 1) & ((1u << ATTRIBUTION_BITS) - 1);
    }
}
static void writeAttribution(const char *path, const Attribution *table) {
    FILE *out = fopen(path, "w");
    for (uint32_t i = 0; out && i < (1u << ATTRIBUTION_BITS); i++)
        if (table[i].ip) fprintf(out, "%llx %llu\n", (unsigned long long)table[i].ip, (unsigned long long)table[i].count);
    if (out) fclose(out);
}

static uint64_t epollWait, reads[8];
static int readCount;
static void readTrigger(const char *path, const char *binary) {
    FILE *file = fopen(path, "r");
    char line[1024];
    if (!file || !fgets(line, sizeof line, file)) { fprintf(stderr, "footprint: cannot read %s\n", path); exit(1); }
    epollWait = strtoull(line, 0, 16);
    if (fgets(line, sizeof line, file))
        for (char *p = line, *end; readCount < 8; p = end) {
            uint64_t address = strtoull(p, &end, 16);
            if (end == p) break;
            reads[readCount++] = address;
        }
    while (fgets(line, sizeof line, file) && regionCount < 4096) {
        Region *r = &regions[regionCount];
        unsigned long long low, high;
        r->name[0] = 0;
        if (sscanf(line, "%llx-%llx %*s %*s %*s %*s %255[^\n]", &low, &high, r->name) < 2) continue;
        r->low = low, r->high = high;
        r->cls = r->name[0] == 0 ? ANONYMOUS : strstr(r->name, binary) ? BINARY : strstr(r->name, ".so") ? LIBRARIES : OTHER;
        regionCount++;
    }
    fclose(file);
}

int main(int argc, char **argv) {
    if (argc != 6) { fprintf(stderr, "usage: footprint TRIGGER ATTRIBUTION CODE REGIONS BINARY-NAME < lackey-trace\n"); return 2; }
    static uint64_t pending[1 << 16], pendingCode[1 << 16];
    char line[256];
    uint64_t seen = 0, ip = 0;
    int counting = 0, turnReads = 0, pendingCount = 0, pendingCodeCount = 0;
    uint64_t turns = 0, code = 0, data = 0, byClass[CLASSES] = {0};
    uint64_t turnCode = 0, turnData = 0, turnClass[CLASSES] = {0};
    uint64_t otherTurns = 0, otherCode = 0, otherData = 0;
    while (fgets(line, sizeof line, stdin)) {
        if (!counting) {
            if ((++seen & 0xFFFFF) == 0 && access(argv[1], R_OK) == 0) { readTrigger(argv[1], argv[5]); counting = 1; }
            continue;
        }
        // "I  0401234,3" an instruction; " L 1ffefff8,8", " S ...", " M ..." a load, store, modify.
        char kind = line[0] == 'I' ? 'I' : line[1];
        char *p = line + 2;
        while (*p == ' ') p++;
        uint64_t address = strtoull(p, 0, 16);
        if (kind == 'I') {
            ip = address;
            if (address == epollWait) {
                if (turnReads) {
                    turns++, code += turnCode, data += turnData;
                    for (int c = 0; c < CLASSES; c++) byClass[c] += turnClass[c];
                    for (int k = 0; k < pendingCount; k++) attribute(attribution, pending[k]);
                    for (int k = 0; k < pendingCodeCount; k++) attribute(codeAttribution, pendingCode[k]);
                } else {
                    otherTurns++, otherCode += turnCode, otherData += turnData;
                }
                turn++, turnCode = turnData = 0, turnReads = 0, pendingCount = pendingCodeCount = 0;
                memset(turnClass, 0, sizeof turnClass);
            }
            for (int k = 0; k < readCount; k++) turnReads |= address == reads[k];
            if (firstInTurn(codeLines, address >> 6)) {
                turnCode++;
                if (pendingCodeCount < (1 << 16)) pendingCode[pendingCodeCount++] = address & ~(uint64_t)63;
            }
        } else if (firstInTurn(dataLines, address >> 6)) {
            turnData++, turnClass[classify(address)]++;
            if (pendingCount < (1 << 16)) pending[pendingCount++] = ip;
        }
    }
    printf("%llu %llu %llu", (unsigned long long)turns, (unsigned long long)code, (unsigned long long)data);
    for (int c = 0; c < CLASSES; c++) printf(" %llu", (unsigned long long)byClass[c]);
    printf(" %llu %llu %llu\n", (unsigned long long)otherTurns, (unsigned long long)otherCode, (unsigned long long)otherData);
    writeAttribution(argv[2], attribution);
    writeAttribution(argv[3], codeAttribution);
    FILE *out = fopen(argv[4], "w");
    for (int i = 0; out && i < regionCount; i++)
        fprintf(out, "%llx %llx %s %s\n", (unsigned long long)regions[i].low, (unsigned long long)regions[i].high, className[regions[i].cls], regions[i].name);
    if (out) fclose(out);
    (void)className;
    return counting ? 0 : 1;
}
