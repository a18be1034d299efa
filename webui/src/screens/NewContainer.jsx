// Placeholder: replaced by another helper.
export default function NewContainer(props) {
  return <h2>NewContainer{props && props.name ? ' ' + props.name : ''}</h2>;
}
