/**
 * The typed mirror of the kernel module's exports (assembly/index.ts). Every export has the same
 * name and parameter names as in assembly/; pointers are byte offsets into the kernel memory.
 * test/kernels.test.ts checks that this list and the module agree.
 */
export interface KernelExports {
  /** First byte the host may use; everything below is the module's static data. */
  heapBase(): number;
}

/** Names of every function the module must export (kept in step with KernelExports). */
export const KERNEL_EXPORT_NAMES: readonly (keyof KernelExports)[] = ['heapBase'];
