/* Compiler annotations of Demikernel's C API: empty SAL markers and GCC attributes. */
#ifndef DEMI_CC_H_IS_INCLUDED
#define DEMI_CC_H_IS_INCLUDED

#define _In_
#define _In_z_
#define _In_opt_
#define _Inout_
#define _In_reads_(s)
#define _In_reads_bytes_(b)
#define _Out_
#define _Out_writes_to_(s, c)
#define _Out_writes_to_opt_(s, c)
#define _Deref_pre_z_

/* Demi builds itself with DEMI_INTERNAL_BUILD so that its own NULL checks are kept. */
#if defined(__GNUC__) && !defined(DEMI_INTERNAL_BUILD)
#define ATTR_NONNULL(...) __attribute__((nonnull(__VA_ARGS__)))
#define ATTR_NODISCARD __attribute__((warn_unused_result))
#elif defined(__GNUC__)
#define ATTR_NONNULL(...)
#define ATTR_NODISCARD __attribute__((warn_unused_result))
#else
#define ATTR_NONNULL(...)
#define ATTR_NODISCARD
#endif

#endif /* DEMI_CC_H_IS_INCLUDED */
