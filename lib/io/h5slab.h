/* h5slab.h - library-internal: the event-axis hyperslab of a Cait-layout
 * dataset, shared by lib/io (reader, writer) and lib/clean (result datasets).
 * Not installed; needs hdf5.h. */
#ifndef CC_H5SLAB_H
#define CC_H5SLAB_H

#include <hdf5.h>
#include <stdint.h>

/* Reads (write = 0) or writes events [first, first + k) of dataset d with
 * memory type mt: rank 1 [n], rank 2 [rows][n], rank 3 [rows][n][cols]; buf
 * holds the slab densely. The dataset must already extend that far. 0, or -1
 * on an HDF5 error (HDF5's own error printing is suppressed). */
int cc_h5_slab(hid_t d, hid_t mt, int rank, uint32_t rows, uint64_t first, uint32_t k,
               uint32_t cols, void *buf, int write);

#endif
