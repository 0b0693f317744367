import { describeWritePathMatrix } from './write_path_matrix_suite';

describeWritePathMatrix('sqlite');
describeWritePathMatrix('postgres');
describeWritePathMatrix('mariadb');
