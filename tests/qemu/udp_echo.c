/* A UDP echo server for the guest: answers each datagram on PORT with
 * "echo:" and the datagram. Static, so it runs in any guest image; the
 * test puts it into a sandbox as a user would put their own program. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: udp_echo PORT\n");
    return 2;
  }
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)atoi(argv[1]));
  if (s < 0 || bind(s, (struct sockaddr*)&a, sizeof a) != 0) {
    perror("udp_echo: bind");
    return 1;
  }
  printf("listening\n");
  fflush(stdout);
  char buf[1500], out[1510];
  for (;;) {
    struct sockaddr_in from;
    socklen_t len = sizeof from;
    ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr*)&from, &len);
    if (n < 0) continue;
    memcpy(out, "echo:", 5);
    memcpy(out + 5, buf, (size_t)n);
    sendto(s, out, (size_t)n + 5, 0, (struct sockaddr*)&from, len);
  }
}
