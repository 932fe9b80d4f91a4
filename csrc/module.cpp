// Python bindings of the compiled core (header-only kernels in csrc/hdnnp/).
#include <nanobind/nanobind.h>

namespace nb = nanobind;

void bind_descriptors(nb::module_ &m);
void bind_network(nb::module_ &m);
void bind_evaluate(nb::module_ &m);

NB_MODULE(_core, m) {
    m.doc() = "hdnnp compiled kernels (symmetry functions, networks, energy/force evaluation)";
    bind_descriptors(m);
    bind_network(m);
    bind_evaluate(m);
}
