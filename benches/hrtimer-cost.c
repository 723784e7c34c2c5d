// benches/hrtimer-cost.c - what arming and cancelling a near timer costs on this host (round 18).
//
//   gcc -O2 -o /tmp/hrtimer-cost benches/hrtimer-cost.c && taskset -c 1 /tmp/hrtimer-cost 500000 && taskset -c 1 /tmp/hrtimer-cost 2000000000
//
// urpd's loop sleeps in epoll_wait with a timeout (tokio's next timer), which arms an hrtimer and
// cancels it when a datagram wakes the loop first: 0.51 of each per REGISTER transaction at 500/s,
// against 0.03 for Kamailio, whose workers block in recvfrom without a timeout. The difference
// between a near deadline (the CPU's earliest timer: the clock event device is reprogrammed) and a
// far one is the price of that per sleep.
#include <stdio.h>
#include <sys/timerfd.h>
#include <time.h>
#include <stdlib.h>
// Arms a timerfd `ahead_ns` in the future and disarms it, N times: with a near deadline the
// hrtimer is the CPU's earliest and each arm/cancel reprograms the clock event device (in a
// KVM guest: the TSC-deadline MSR, a VM exit unless the host offloads it).
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e9+t.tv_nsec;}
int main(int c,char**v){long ahead=atol(v[1]);int n=200000;int fd=timerfd_create(CLOCK_MONOTONIC,0);
 struct itimerspec on={{0,0},{ahead/1000000000,ahead%1000000000}},off={{0,0},{0,0}};
 double t0=now();for(int i=0;i<n;i++){timerfd_settime(fd,0,&on,0);timerfd_settime(fd,0,&off,0);}
 printf("ahead %ld ns: %.0f ns per arm+disarm\n",ahead,(now()-t0)/n);return 0;}
