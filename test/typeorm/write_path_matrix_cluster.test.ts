import { describeWritePathMatrix } from './write_path_matrix_suite';

// The same matrix with the cache on L1 + a private 3-master Redis Cluster (test/support/cluster.ts).
describeWritePathMatrix('postgres', 'l1+redis-cluster');
