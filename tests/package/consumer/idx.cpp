// An outside program using sgdsde::idx: writes a gzip IDX label file through zlib and reads it back.
#include <sgdsde/data/fashion_mnist.hpp>

#include <cstdio>
#include <string>

#include <zlib.h>

int main() {
  const std::string path = "consumer_labels.idx1.gz";
  const unsigned char bytes[] = {0, 0, 8, 1, 0, 0, 0, 3, 2, 0, 1};
  gzFile f = gzopen(path.c_str(), "wb");
  if (!f || gzwrite(f, bytes, sizeof bytes) != int(sizeof bytes)) return 1;
  gzclose(f);
  const sgdsde::Labels labels = sgdsde::data::read_idx_labels(path, 3);
  std::printf("consumer_idx: read %d labels\n", int(labels.size()));
  std::remove(path.c_str());
  return labels.size() == 3 && labels[0] == 2 && labels[1] == 0 && labels[2] == 1 ? 0 : 1;
}
