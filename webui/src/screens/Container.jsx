// Placeholder: replaced by another helper.
export default function Container(props) {
  return <h2>Container{props && props.name ? ' ' + props.name : ''}</h2>;
}
