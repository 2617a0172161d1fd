declare module 'virtual:reasons' {
  const table: Record<string, string[]>;
  export default table;
}
