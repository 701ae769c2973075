/* page.h - the guest page size, the one fact about memory every layer shares. */
#ifndef COLO_PAGE_H
#define COLO_PAGE_H

#define COLO_PAGE_SHIFT 12
#define COLO_PAGE_SIZE (1u << COLO_PAGE_SHIFT)

#endif
